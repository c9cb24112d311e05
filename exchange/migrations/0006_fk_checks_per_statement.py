"""Foreign keys of the append-only tables the matching worker writes in bulk, checked per statement.

Django creates every foreign key DEFERRABLE INITIALLY DEFERRED: PostgreSQL then queues one check
per inserted row and runs each at COMMIT as its own query taking FOR KEY SHARE on the parent
(about 18 per command, two thirds of the database's CPU in the sequencer benchmark,
docs/PERFORMANCE.md). These keys are declared `db_constraint=False` and enforced here instead by
statement-level triggers: after each INSERT or UPDATE (COPY included) of a child table, one
anti-join per key over the statement's distinct keys (its transition table) raises
foreign_key_violation (23503), naming the constraint and the missing key; after each DELETE of a
parent, one semi-join per referencing key refuses to orphan a row. Ids of the parents never change
(a row trigger refuses it). docs/ARCHITECTURE.md ("Money: the ledger") says what this does not
cover and why.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# child table -> (constraint, column, parent table)
CHECKED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "exchange_fill": (
        ("exchange_fill_market_id_fk", "market_id", "exchange_market"),
        ("exchange_fill_maker_order_id_fk", "maker_order_id", "exchange_order"),
        ("exchange_fill_taker_order_id_fk", "taker_order_id", "exchange_order"),
        ("exchange_fill_maker_user_id_fk", "maker_user_id", "accounts_user"),
        ("exchange_fill_taker_user_id_fk", "taker_user_id", "accounts_user"),
        ("exchange_fill_maker_fee_asset_id_fk", "maker_fee_asset_id", "exchange_asset"),
        ("exchange_fill_taker_fee_asset_id_fk", "taker_fee_asset_id", "exchange_asset"),
    ),
    "exchange_journalentry": (("exchange_journalentry_created_by_id_fk", "created_by_id", "accounts_user"),),
    "exchange_journalline": (
        ("exchange_journalline_entry_id_fk", "entry_id", "exchange_journalentry"),
        ("exchange_journalline_account_id_fk", "account_id", "exchange_ledgeraccount"),
        ("exchange_journalline_asset_id_fk", "asset_id", "exchange_asset"),
    ),
}
PARENTS = sorted({parent for keys in CHECKED.values() for _, _, parent in keys})

# Planner settings of the check functions: PL/pgSQL keeps each query's plan for the session, so
# a plan made while a parent table was small (a hash join over a sequential scan) would stay as
# the table grows. With these off every probe is an index lookup by primary key, whatever the size.
_INDEX_PROBES = "SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off"


def _child_sql(table: str) -> list[str]:
    probes = "\n    UNION ALL ".join(
        f"SELECT '{name}', '{column}', '{parent}', s.k::text"
        f" FROM (SELECT DISTINCT {column} AS k FROM new_rows WHERE {column} IS NOT NULL) AS s"
        f" WHERE NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.id = s.k)"
        for name, column, parent in CHECKED[table]
    )
    function = f"""
CREATE FUNCTION {table}_fk_check() RETURNS trigger LANGUAGE plpgsql {_INDEX_PROBES} AS $$
DECLARE
    bad record;
BEGIN
    SELECT * INTO bad FROM (
    {probes}
    ) AS v (constraint_name, column_name, parent, k) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME,
            CONSTRAINT = bad.constraint_name, COLUMN = bad.column_name,
            MESSAGE = format('insert or update on table "%s" violates foreign key constraint "%s"',
                             TG_TABLE_NAME, bad.constraint_name),
            DETAIL = format('Key (%s)=(%s) is not present in table "%s".', bad.column_name, bad.k, bad.parent);
    END IF;
    RETURN NULL;
END $$"""
    # Transition tables allow one event per trigger, and no column list: hence two triggers, and
    # every UPDATE is checked (nothing updates these append-only rows).
    return [
        function,
        *(
            f"CREATE TRIGGER {table}_fk_check_{event.lower()} AFTER {event} ON {table}"
            f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {table}_fk_check()"
            for event in ("INSERT", "UPDATE")
        ),
    ]


def _parent_sql(parent: str) -> list[str]:
    refs = [
        (child, name, column) for child, keys in CHECKED.items() for name, column, p in keys if p == parent
    ]
    children = ", ".join(sorted({child for child, _, _ in refs}))
    probes = "\n    UNION ALL ".join(
        f"SELECT '{name}', '{child}', o.id::text FROM old_rows AS o"
        f" WHERE EXISTS (SELECT 1 FROM {child} AS c WHERE c.{column} = o.id)"
        for child, name, column in refs
    )
    function = f"""
CREATE FUNCTION {parent}_fk_refuse_delete() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    bad record;
BEGIN
    PERFORM 1 FROM old_rows LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- Waits for transactions still inserting children (their check saw the parent, not this
    -- uncommitted delete) and holds back new ones until this one ends: no orphan by a race.
    LOCK TABLE {children} IN SHARE MODE;
    SELECT * INTO bad FROM (
    {probes}
    ) AS v (constraint_name, child, k) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME,
            CONSTRAINT = bad.constraint_name,
            MESSAGE = format('update or delete on table "%s" violates foreign key constraint "%s" on table "%s"',
                             TG_TABLE_NAME, bad.constraint_name, bad.child),
            DETAIL = format('Key (id)=(%s) is still referenced from table "%s".', bad.k, bad.child);
    END IF;
    RETURN NULL;
END $$"""
    return [
        function,
        f"CREATE TRIGGER {parent}_fk_refuse_delete AFTER DELETE ON {parent}"
        f" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {parent}_fk_refuse_delete()",
        f"CREATE TRIGGER {parent}_fk_refuse_id_change BEFORE UPDATE OF id ON {parent}"
        " FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION satchel_fk_refuse_id_change()",
    ]


_ID_CHANGE_SQL = """
CREATE FUNCTION satchel_fk_refuse_id_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME,
        MESSAGE = format('the id of a row of "%s" never changes: rows of other tables reference it',
                         TG_TABLE_NAME);
END $$"""

# Lists of statements: RunSQL runs each as it is (a single string would be split by sqlparse).
INSTALL_SQL = [
    _ID_CHANGE_SQL,
    *(sql for table in CHECKED for sql in _child_sql(table)),
    *(sql for parent in PARENTS for sql in _parent_sql(parent)),
]
REMOVE_SQL = [
        *(
            f"DROP FUNCTION {table}_fk_check() CASCADE"  # with its triggers
            for table in CHECKED
        ),
        *(
            f"DROP FUNCTION {parent}_fk_refuse_delete() CASCADE"
            for parent in PARENTS
        ),
        "DROP FUNCTION satchel_fk_refuse_id_change() CASCADE",
]


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0005_drop_redundant_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="fill",
            name="maker_fee_asset",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="exchange.asset",
            ),
        ),
        migrations.AlterField(
            model_name="fill",
            name="maker_order",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="maker_fills",
                to="exchange.order",
            ),
        ),
        migrations.AlterField(
            model_name="fill",
            name="maker_user",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="fill",
            name="market",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="fills",
                to="exchange.market",
            ),
        ),
        migrations.AlterField(
            model_name="fill",
            name="taker_fee_asset",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="exchange.asset",
            ),
        ),
        migrations.AlterField(
            model_name="fill",
            name="taker_order",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="taker_fills",
                to="exchange.order",
            ),
        ),
        migrations.AlterField(
            model_name="fill",
            name="taker_user",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="journalline",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lines",
                to="exchange.ledgeraccount",
            ),
        ),
        migrations.AlterField(
            model_name="journalline",
            name="asset",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="exchange.asset",
            ),
        ),
        migrations.AlterField(
            model_name="journalline",
            name="entry",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lines",
                to="exchange.journalentry",
            ),
        ),
        migrations.RunSQL(INSTALL_SQL, REMOVE_SQL),
    ]
