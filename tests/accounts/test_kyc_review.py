"""The officers' review queue: approve, reject, ask for more (each audited, the customer sees the
result), who may decide, the documents only staff can open, and the periodic re-review."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import KycCase, KycProfile, User
from accounts.services.kyc import kyc_document_submit, kyc_personal_submit
from accounts.services.kyc_review import (
    CaseStateError,
    kyc_case_approve,
    kyc_case_reject,
    kyc_case_request_info,
    kyc_enhanced_case_open,
)
from accounts.tasks import kyc_review_sweep
from compliance.models import Alert, AuditEntry
from core.errors import Forbidden, InvalidRequest
from tests.accounts.kyc_helpers import PDF, PNG, personal, upload
from tests.fixtures.staff import staff_login

pytestmark = pytest.mark.usefixtures("jurisdictions")


def today() -> date:
    return timezone.now().date()


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


@pytest.fixture
def full_case(bob) -> KycCase:
    """bob at tier basic with both documents uploaded: a FULL case waits."""
    kyc_personal_submit(user=bob, **personal())
    kyc_document_submit(
        user=bob,
        kind="identity",
        document_type="passport",
        number="X1",
        issuing_country="CH",
        expiry_date=today() + timedelta(days=365),
        file=upload(PNG),
        size=len(PNG),
    )
    kyc_document_submit(
        user=bob, kind="proof_of_address", document_type="bank_statement", file=upload(PDF), size=len(PDF)
    )
    return KycCase.objects.get(user=bob, kind="full")


def test_approve_sets_the_tier_and_audits_who_and_why(full_case, bob, carol, client):
    kyc_case_approve(case=full_case, officer=carol, reason="passport and bill match")
    full_case.refresh_from_db()
    assert (full_case.status, full_case.decided_by_id) == ("approved", carol.pk)
    assert fresh(bob).kyc_level == "full"
    decision = AuditEntry.objects.get(action="kyc.case_approve")
    assert (decision.actor_id, decision.before, decision.after["status"]) == (
        carol.pk,
        {"status": "pending"},
        "approved",
    )
    level = AuditEntry.objects.filter(action="kyc.level_set").latest("id")
    assert (level.actor_id, level.before, level.after["kyc_level"]) == (
        carol.pk,
        {"kyc_level": "basic"},
        "full",
    )
    assert "passport and bill match" in level.after["reason"]

    client.force_login(bob)
    page = client.get(reverse("accounts:kyc")).content.decode()
    assert "Verification: Full" in page
    assert "withdraw" in page
    with pytest.raises(CaseStateError):
        kyc_case_reject(case=full_case, officer=carol, reason="second thoughts")


def test_reject_keeps_the_tier_and_the_customer_sees_the_reason(full_case, bob, carol, client):
    kyc_case_reject(case=full_case, officer=carol, reason="The proof of address is older than three months")
    assert fresh(bob).kyc_level == "basic"
    assert AuditEntry.objects.get(action="kyc.case_reject").after["reason"].startswith("The proof")
    client.force_login(bob)
    assert (
        "The proof of address is older than three months"
        in client.get(reverse("accounts:kyc")).content.decode()
    )


def test_ask_for_more_shows_on_the_customers_page_and_an_upload_puts_the_case_back(
    full_case, bob, carol, client
):
    kyc_case_request_info(case=full_case, officer=carol, message="Upload the back of your ID card")
    full_case.refresh_from_db()
    assert (full_case.status, full_case.info_request) == ("info_requested", "Upload the back of your ID card")
    assert AuditEntry.objects.filter(action="kyc.case_request_info", actor=carol).count() == 1
    client.force_login(bob)
    assert "Upload the back of your ID card" in client.get(reverse("accounts:kyc")).content.decode()

    kyc_document_submit(
        user=bob, kind="proof_of_address", document_type="utility_bill", file=upload(PDF), size=len(PDF)
    )
    full_case.refresh_from_db()
    assert full_case.status == "pending"
    assert AuditEntry.objects.filter(action="kyc.case_resume", actor=bob).count() == 1


def test_a_support_agent_cannot_decide_and_nothing_changes(full_case, bob, sam, client):
    for decide in (
        lambda: kyc_case_approve(case=full_case, officer=sam),
        lambda: kyc_case_reject(case=full_case, officer=sam, reason="no"),
        lambda: kyc_case_request_info(case=full_case, officer=sam, message="more"),
    ):
        with pytest.raises(Forbidden):
            decide()
    staff_login(client, sam)
    url = reverse("admin:accounts_kyccase_change", args=[full_case.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'id="decision"' not in page.content.decode()
    assert client.post(url, {"decision": "approve", "reason": ""}).status_code == 403
    full_case.refresh_from_db()
    assert (full_case.status, fresh(bob).kyc_level) == ("pending", "basic")
    assert (
        not AuditEntry.objects.filter(action__startswith="kyc.case_").exclude(action="kyc.case_open").exists()
    )
    # Nor can sam open the documents.
    document = bob.kyc_documents.first()
    assert client.get(reverse("admin:accounts_kyccase_document", args=[document.pk])).status_code == 403


def test_an_officer_cannot_decide_their_own_case(carol):
    kyc_personal_submit(user=carol, **personal(legal_name="Igor Swjagorski", birth_date=date(1968, 3, 14)))
    case = KycCase.objects.create(user=carol, kind="full", target_level="full", opened_reason="test")
    with pytest.raises(Forbidden, match="own account"):
        kyc_case_approve(case=case, officer=carol)


def test_the_officer_reviews_and_approves_in_the_admin(full_case, bob, carol, client):
    staff_login(client, carol)
    queue = client.get(reverse("admin:accounts_kyccase_changelist") + "?queue=pending").content.decode()
    assert "Maria Lindford" in queue
    url = reverse("admin:accounts_kyccase_change", args=[full_case.pk])
    page = client.get(url).content.decode()
    assert "+15: Resident outside the EU/EEA (Switzerland)" in page  # risk with its reasons
    assert "Passport" in page
    assert "No screening hits." in page
    assert 'id="decision"' in page
    document = bob.kyc_documents.get(kind="identity")
    opened = client.get(reverse("admin:accounts_kyccase_document", args=[document.pk]))
    assert (opened.status_code, opened["Content-Type"], opened["X-Content-Type-Options"]) == (
        200,
        "image/png",
        "nosniff",
    )
    assert b"".join(opened.streaming_content) == PNG

    response = client.post(url, {"decision": "approve", "reason": "documents match"})
    assert response.status_code == 302
    assert fresh(bob).kyc_level == "full"


def test_the_admin_shows_a_refusal_for_an_empty_rejection_reason(full_case, carol, client):
    staff_login(client, carol)
    url = reverse("admin:accounts_kyccase_change", args=[full_case.pk])
    page = client.post(url, {"decision": "reject", "reason": " "})
    assert page.status_code == 200
    assert "A rejection needs a reason" in page.content.decode()
    full_case.refresh_from_db()
    assert full_case.status == "pending"


def test_a_screening_case_must_be_decided_before_full(bob, carol, sample_list):
    kyc_personal_submit(user=bob, **personal(legal_name="Igor Swjagorski", birth_date=date(1968, 3, 14)))
    screening = KycCase.objects.get(user=bob, kind="screening")
    full = KycCase.objects.create(user=bob, kind="full", target_level="full", opened_reason="test")
    with pytest.raises(InvalidRequest, match="screening case first"):
        kyc_case_approve(case=full, officer=carol)
    assert fresh(bob).kyc_level == "none"
    kyc_case_approve(case=screening, officer=carol, reason="a namesake: other father's name")
    assert fresh(bob).kyc_level == "basic"


def test_enhanced_needs_the_source_of_funds_and_wealth(full_case, bob, carol):
    kyc_case_approve(case=full_case, officer=carol)
    case = kyc_enhanced_case_open(user=fresh(bob), officer=carol, reason="large deposits planned")
    with pytest.raises(InvalidRequest, match="source of funds"):
        kyc_case_approve(case=case, officer=carol, source_of_funds="salary")
    assert fresh(bob).kyc_level == "full"
    kyc_case_approve(case=case, officer=carol, source_of_funds="salary", source_of_wealth="sale of a house")
    profile = KycProfile.objects.get(user=bob)
    assert (fresh(bob).kyc_level, profile.source_of_wealth) == ("enhanced", "sale of a house")
    assert AuditEntry.objects.get(action="kyc.edd_record").after["source_of_funds"] == "salary"


def test_periodic_review_opens_a_case_once_when_due_and_rescreens(full_case, bob, carol, sample_list):
    kyc_case_approve(case=full_case, officer=carol)
    due = KycProfile.objects.get(user=bob).next_review_at
    assert due.year == timezone.now().year + 3  # low risk
    assert kyc_review_sweep() == 0
    KycProfile.objects.filter(user=bob).update(legal_name="Igor Zvyagorsky", birth_date=date(1968, 3, 14))
    with time_machine.travel(due + timedelta(days=1)):
        call_command("kyc_review_due", verbosity=0)
        assert kyc_review_sweep() == 0  # idempotent: the open case is found
    case = KycCase.objects.get(user=bob, kind="periodic")
    assert (case.status, case.target_level) == ("pending", "full")
    assert Alert.objects.filter(subject=bob, context="periodic").count() == 1


def test_the_demo_seed_leaves_a_case_for_the_officer_and_runs_twice(db):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    (case,) = KycCase.objects.filter(user__email="applicant@satchel.demo")
    assert (case.kind, case.status, case.user.kyc_level) == ("full", "pending", "basic")
    trader = User.objects.get(email="trader@satchel.demo")
    assert (trader.kyc_level, trader.residence_country) == ("full", "CH")
