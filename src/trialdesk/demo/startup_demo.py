"""Demo feasibility and start-up (called by the demo loader once sites and users exist).

KESTREL-1 (planning): a feasibility questionnaire with responses from every candidate (submitted, in progress,
invited), past performance from the same hospitals in other demo studies, the template, and the selected
sites' first milestones. CALMWAVE (start-up): the template with every site's milestones: activated sites
complete, sites in start-up part-way with some late, selected sites at the beginning.

Dates come from the sites' own recorded dates, so the site pages, the tracker and the enrollment forecast
agree. The site qualification visit is dated on the selection day (it precedes selection in the template).
Everything goes through the services, so it is validated, ordered and audited like real work.
"""

from __future__ import annotations

import datetime as dt
import random

from trialdesk.startup.models import SiteMilestone, StartupMilestoneDefinition
from trialdesk.startup.services import (
    feasibility_answers_save,
    feasibility_invite,
    feasibility_question_create,
    feasibility_submit,
    site_milestone_update,
    startup_template_ensure,
)

SEED = 3_2208
FEASIBILITY_STUDY = "NVT-4412-101"
STARTUP_STUDY = "NVT-2208-201"
TEMPLATE_STUDIES = (FEASIBILITY_STUDY, STARTUP_STUDY)
QUESTIONNAIRE_STUDIES = (FEASIBILITY_STUDY, STARTUP_STUDY)
# Countries where the competent authority's approval is a site-level start-up step in the demo.
REGULATORY_COUNTRIES = {"Germany", "France", "Spain", "Italy", "Poland", "United Kingdom", "Japan", "Canada"}

QUESTIONS = [
    {"text": "Can you store the investigational product at the required temperature, with a temperature log?",
     "kind": "yes_no", "preferred_answer": "yes", "weight": 3, "required": True},
    {"text": "How many eligible patients does the site see per month?", "kind": "number", "score_min": 0,
     "score_max": 8, "weight": 3, "required": True,
     "help_text": "From the last 12 months of clinic records, applying the key inclusion criteria."},
    {"text": "Typical days from IRB/IEC submission to approval at your institution?", "kind": "number",
     "score_min": 90, "score_max": 30, "weight": 2},
    {"text": "Competing studies in the same population at the site", "kind": "choice", "weight": 2,
     "choices": [{"label": "None", "score": 1}, {"label": "One", "score": 0.5},
                 {"label": "Two or more", "score": 0}]},
    {"text": "Dedicated study coordinator available for this study?", "kind": "yes_no", "preferred_answer": "yes",
     "weight": 1},
    {"text": "Anything else the sponsor should know?", "kind": "text"},
]


def startup_demo_load(loader) -> None:
    _Startup(loader).run()


class _Startup:
    def __init__(self, loader):
        self.loader = loader
        self.cpm = loader.users["cpm"]
        self.regulatory = loader.users["regulatory"]
        self.today = loader.today
        self.rng = random.Random(SEED)
        self.questions: dict[str, list] = {}

    def run(self) -> None:
        for protocol in QUESTIONNAIRE_STUDIES:
            self._questionnaire(protocol)
        for protocol in TEMPLATE_STUDIES:
            study = self.loader.studies[protocol]
            startup_template_ensure(user=self.cpm, study=study,
                                    reason="Start-up tracked against the sponsor's standard template.")
            for site in self._sites(protocol):
                self._milestones(site)

    def _sites(self, protocol: str) -> list:
        return [site for (p, _key), site in self.loader.sites.items() if p == protocol]

    def _days(self, n: int) -> dt.timedelta:
        return dt.timedelta(days=n)

    # --- feasibility ------------------------------------------------------------------------------------

    def _questionnaire(self, protocol: str) -> None:
        study = self.loader.studies[protocol]
        self.questions[protocol] = [feasibility_question_create(user=self.cpm, study=study, data=dict(q))
                                    for q in QUESTIONS]
        for index, site in enumerate(self._sites(protocol)):
            if site.status in ("not_selected", "closed_out"):
                continue
            chosen = site.status != "candidate"
            # Candidates: one submitted, one still answering, the others invited only.
            stage = "submit" if chosen or index % 3 == 0 else ("answer" if index % 3 == 1 else "invite")
            response = feasibility_invite(user=self.cpm, site=site, reason="Feasibility round 1.")
            if stage == "invite":
                continue
            response = feasibility_answers_save(user=self.cpm, site=site, version=response.version,
                                                answers=self._answers(protocol, strong=chosen), reason="")
            if stage == "submit":
                feasibility_submit(user=self.cpm, site=site, version=response.version,
                                   reason="Answers received from the site by e-mail; entered by the CPM.")

    def _answers(self, protocol: str, *, strong: bool) -> dict:
        q = self.questions[protocol]
        rng = self.rng
        answers = {
            q[0].pk: "yes" if strong or rng.random() < 0.7 else "no",
            q[1].pk: rng.randint(4, 12) if strong else rng.randint(1, 6),
            q[2].pk: rng.randint(25, 60) if strong else rng.randint(45, 110),
            q[3].pk: rng.choice(["None", "One"] if strong else ["One", "Two or more"]),
        }
        if strong or rng.random() < 0.5:
            answers[q[4].pk] = "yes" if rng.random() < 0.8 else "no"
            answers[q[5].pk] = rng.choice(["Experienced unit with a research pharmacy.",
                                           "New investigator, strong referral network.", ""])
        return answers

    # --- milestones ---------------------------------------------------------------------------------------

    def _record(self, site, key: str, reason: str, **data) -> None:
        definition = StartupMilestoneDefinition.objects.get(study_id=site.study_id, key=key)
        record = SiteMilestone.objects.filter(site=site, definition=definition).first()
        site.refresh_from_db()
        site_milestone_update(user=self.cpm, site=site, definition=definition, data=data,
                              version=record.version if record else 0, reason=reason)

    def _milestones(self, site) -> None:
        site.refresh_from_db()
        selected = site.actual_selected
        if site.status in ("candidate", "not_selected") or selected is None:
            return
        days = self._days
        rng = self.rng
        note = "Recorded from the start-up tracker spreadsheet."
        self._record(site, "confidentiality_agreement", note, actual_date=selected - days(rng.randint(45, 70)))
        self._record(site, "feasibility", note, actual_date=selected - days(rng.randint(20, 35)))
        self._record(site, "qualification_visit", "Selection confirmed at the qualification visit.",
                     actual_date=selected)
        contract = site.actual_contract_executed
        irb = site.actual_irb_approval
        siv = site.actual_initiation_visit
        limit = self.today - days(1)
        # Budget before the contract; IRB/IEC submission before its approval (or a while after selection).
        budget = contract - days(rng.randint(5, 20)) if contract else selected + days(rng.randint(20, 50))
        if budget <= limit and (contract is not None or site.status != "selected"):
            self._record(site, "budget_agreed", note, actual_date=max(selected, budget))
        submitted = irb - days(rng.randint(25, 40)) if irb else selected + days(rng.randint(10, 30))
        if submitted <= limit and site.status != "selected":
            self._record(site, "irb_submitted", note, actual_date=max(selected, submitted), owner=self.regulatory)
        elif site.status != "selected":
            self._record(site, "irb_submitted", "Dossier in preparation.", owner=self.regulatory)
        regulatory_date = None
        if site.country not in REGULATORY_COUNTRIES:
            self._record(site, "regulatory_approval", note, not_applicable=True,
                         not_applicable_reason="Covered by the study-level IND; no site-level authority approval.")
        elif siv is not None:
            regulatory_date = max(selected, siv - days(rng.randint(10, 40)))
            self._record(site, "regulatory_approval", note, actual_date=regulatory_date)
        if siv is not None and contract is not None and irb is not None:
            documents = min(max(contract, irb) + days(rng.randint(0, 6)), siv)
            self._record(site, "essential_documents", note, actual_date=documents)
        elif site.status == "start_up" and contract is not None:
            # Late: planned three weeks ago, still waiting for the IRB/IEC approval letter.
            self._record(site, "essential_documents", "Waiting for the approval letter.",
                         planned_date=max(selected, self.today - days(rng.randint(10, 25))))
