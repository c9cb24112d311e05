"""The audit trail is append-only in the database itself, not only in the code that writes it.

A row trigger raises on every UPDATE and DELETE of compliance_auditentry, whoever issues it (the
admin, a shell, raw SQL). TRUNCATE is not guarded: the test runner empties every table with it
between transactional tests. In production the application role should not own the table, so it
cannot TRUNCATE or disable the trigger; `verify_audit_chain --anchor` detects a truncated chain.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION compliance_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'compliance_auditentry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER compliance_auditentry_append_only
    BEFORE UPDATE OR DELETE ON compliance_auditentry
    FOR EACH ROW EXECUTE FUNCTION compliance_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS compliance_auditentry_append_only ON compliance_auditentry;
DROP FUNCTION IF EXISTS compliance_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
