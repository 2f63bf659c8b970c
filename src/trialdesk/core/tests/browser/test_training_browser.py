"""Protocol training in a real browser on the demo portfolio: the investigator acknowledges an in-service by
e-signature, fails and retakes its quiz, gets a certificate whose PDF shows the facts and whose number verifies;
the CPM reads the training matrix (all four states) and, approving AIRWAY-3's draft amendment, sees retraining
due for every delegated member of staff.

The demo (trialdesk.training.demo) leaves the investigator's and coordinator's attendance at the "Home-dosing
module inservice" unacknowledged. The last test approves AIRWAY-3's protocol 3.0 (a draft in the demo); no other
browser test depends on that draft.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from playwright.sync_api import expect
from pypdf import PdfReader

from trialdesk.demo import portfolio as demo
from trialdesk.training.demo import QUIZ

STUDY = "NVT-1150-301"   # AIRWAY-3
STUDY_URL = re.compile(r"/studies/(\d+)/$")
INSERVICE = "Home-dosing module inservice"


def _person_name(username: str) -> str:
    spec = next(u for u in demo.USERS if u.username == username)
    return f"{spec.first_name} {spec.last_name}"


def _login(page, live_app, username: str) -> str:
    """Sign in; returns the name the top bar shows (the user's person: the investigator is a site's PI)."""
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(live_app.password(username))
    page.get_by_test_id("login-button").click()
    expect(page).to_have_url(re.compile(r"^[^?]*/$"))
    name = page.get_by_test_id("user-menu").locator("strong").inner_text().strip()
    assert name
    return name


def _open_study(page, protocol: str) -> None:
    page.goto(f"/?q={protocol}")
    page.get_by_test_id(f"study-row-{protocol}").get_by_role("link", name=protocol, exact=True).click()
    expect(page).to_have_url(STUDY_URL)


def _answer(page, *, right: bool) -> None:
    for _text, options, correct in QUIZ:
        chosen = correct if right else [0]
        for index in chosen:
            page.get_by_label(options[index], exact=True).check()
    page.get_by_test_id("submit-quiz").click()


def test_investigator_acknowledges_retakes_the_quiz_and_verifies_the_certificate(page, live_app):
    investigator = _login(page, live_app, "investigator")
    page.get_by_test_id("nav-my-training").click()
    expect(page).to_have_url(re.compile(r"/training/mine/$"))
    row = page.get_by_test_id("my-trainings").locator("tr", has_text=INSERVICE)
    row.get_by_role("link", name="Acknowledge attendance").click()

    # The acknowledgement is the attendee's own e-signature: a wrong password signs nothing.
    form = page.get_by_test_id("signature-form")
    expect(form).to_contain_text(investigator)
    expect(page.get_by_test_id("signature-meaning-fixed")).to_have_text("Reviewed")
    page.locator("#signature-password").fill("not-my-password")
    page.get_by_test_id("sign-button").click()
    expect(form).to_contain_text("The password is not correct")
    page.locator("#signature-password").fill(live_app.password("investigator"))
    page.get_by_test_id("sign-button").click()
    expect(page).to_have_url(re.compile(r"/training/mine/$"))

    # The quiz is required: a failed attempt, then a pass, each scored at once.
    row = page.get_by_test_id("my-trainings").locator("tr", has_text=INSERVICE)
    row.get_by_role("link", name="Take the quiz").click()
    _answer(page, right=False)
    expect(page.get_by_test_id("attempts-table")).to_contain_text("Not passed")
    _answer(page, right=True)
    expect(page.get_by_test_id("quiz-passed")).to_be_visible()
    page.get_by_test_id("quiz-passed").get_by_role("link").click()

    number = page.get_by_test_id("certificate-number").inner_text().strip()
    assert re.fullmatch(r"TC-[0-9A-Z]{4}-[0-9A-Z]{4}-\d{2}", number), number
    facts = page.get_by_test_id("certificate-facts")
    expect(facts).to_contain_text(investigator)
    expect(facts).to_contain_text(STUDY)
    expect(page.get_by_test_id("certificate-verification")).to_contain_text("genuine and valid")

    # The PDF opens and shows name, study, training, topics, date, trainer and number.
    with page.expect_download() as download:
        page.get_by_test_id("certificate-pdf").click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"%PDF")
    text = " ".join(" ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages).split())
    cpm = _person_name("cpm")
    for expected in (investigator, STUDY, INSERVICE, "Hands-on practice", number,
                     cpm.split()[-1]):
        assert expected in text, expected
    assert re.search(r"Training date \d{4}-\d{2}-\d{2}", text), text

    # Its number verifies (typed in lower case, without dashes); one wrong digit does not.
    page.goto("/training/certificates/verify/")
    page.locator("#id_number").fill(number.lower().replace("-", " "))
    page.get_by_test_id("verify-button").click()
    result = page.get_by_test_id("verify-result")
    expect(result).to_have_attribute("data-status", "valid")
    expect(page.get_by_test_id("verify-name")).to_have_text(investigator)
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)
    page.locator("#id_number").fill(typo)
    page.get_by_test_id("verify-button").click()
    expect(page.get_by_test_id("verify-result")).to_have_attribute("data-status", "malformed")


def test_cpm_reads_the_matrix_and_approving_an_amendment_brings_retraining(page, live_app):
    _login(page, live_app, "cpm")
    _open_study(page, STUDY)
    page.get_by_test_id("tab-training").click()
    expect(page.get_by_test_id("trainings-table")).to_contain_text(INSERVICE)
    page.get_by_test_id("matrix-link").click()
    matrix = page.get_by_test_id("training-matrix")
    expect(matrix.locator('[data-testid="matrix-col-protocol"]')).to_have_text("Protocol training, version "
                                                                                "2.0 (Amendment 1)")
    for state in ("done", "due", "overdue", "expired"):
        expect(matrix.locator(f'[data-state="{state}"]').first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_test_id("matrix-xlsx").click()
    assert download.value.suggested_filename == f"training-matrix-{STUDY}.xlsx"

    # The people delegated on the study (not principal investigators in the demo) ...
    delegated = [r.get_attribute("data-testid") for r in matrix.locator("tbody tr").all()
                 if re.search(r"Sub-investigator|Study nurse|Study coordinator", r.inner_text())]
    assert delegated

    # ... must be retrained once protocol 3.0 is approved (e-signature).
    page.get_by_test_id("tab-protocols").click()
    approve = page.get_by_test_id("protocol-versions-table").locator('[data-testid^="approve-"]').first
    approve.click()
    page.locator("#signature-password").fill(live_app.password("cpm"))
    page.get_by_test_id("sign-button").click()
    expect(page).to_have_url(re.compile(r"/protocol-versions/$"))

    page.get_by_test_id("tab-training").click()
    page.get_by_test_id("matrix-link").click()
    matrix = page.get_by_test_id("training-matrix")
    expect(matrix.locator('[data-testid="matrix-col-protocol"]')).to_have_text("Protocol training, version "
                                                                                "3.0 (Amendment 2)")
    for testid in delegated:
        cell = matrix.get_by_test_id(testid).locator("td").nth(2)   # site, role, then the protocol column
        expect(cell.locator("[data-state]")).to_have_attribute("data-state", "due")
    page.goto(page.url.replace("/matrix/", "/requirements/"))
    expect(page.get_by_test_id("requirements-table")).to_contain_text("Protocol retraining — version 3.0")
