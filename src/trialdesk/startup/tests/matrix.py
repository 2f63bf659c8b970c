"""Start-up entries of the API and page permission matrices (core/tests/test_*_permission_matrix.py).

Fixture records are made inside each call (the API matrix rolls every call back) or once per world (pages).
"""

from __future__ import annotations

# --- API ---------------------------------------------------------------------------------------------------

def api_operations(m) -> dict:
    VIEW_STARTUP = ("startup.view", "study", 404)
    VIEW_SITE_STARTUP = ("startup.view", "site", 404)
    EDIT_STUDY = ("startup.edit", "study", 403)
    EDIT_SITE = ("startup.edit", "site", 403)
    ANSWER = (("startup.edit", "feasibility.answer"), "site", 403)

    def admin(w):
        return m._admin(w)

    def question(w):
        from trialdesk.startup.services import feasibility_question_create

        return feasibility_question_create(user=admin(w), study=w.study, data={
            "text": "Matrix question", "kind": "yes_no", "preferred_answer": "yes", "required": True})

    def answered(w, *, submit=False):
        from trialdesk.startup.services import feasibility_answers_save, feasibility_submit

        q = question(w)
        response = feasibility_answers_save(user=admin(w), site=w.site, answers={q.pk: "yes"}, version=0)
        if submit:
            response = feasibility_submit(user=admin(w), site=w.site, version=response.version)
        return q, response

    def template(w):
        from trialdesk.startup.services import startup_template_ensure

        return {d.key: d for d in startup_template_ensure(user=admin(w), study=w.study)}

    def on_question(body):
        def request(w, caller, path):
            q = question(w)
            return path.format(question_id=q.pk), None, body(q)
        return request

    def on_definition(body, key="budget_agreed"):
        def request(w, caller, path):
            d = template(w)[key]
            return path.format(definition_id=d.pk), None, body(d)
        return request

    def with_question(body):
        def request(w, caller, path):
            q = question(w)
            return path, None, body(w, q)
        return request

    def with_response(body, *, submit=False):
        def request(w, caller, path):
            _, response = answered(w, submit=submit)
            return path, None, body(response)
        return request

    def listing_response(w, caller, path):
        answered(w)
        return path, None, None

    def with_template(body=None):
        def request(w, caller, path):
            template(w)
            return path, None, body(w) if body else None
        return request

    def response_listed(w, caller, body):
        return isinstance(body, list) and any(item["site"]["id"] == w.site.pk for item in body)

    return {
        # questionnaire
        ("GET", "/startup/studies/{study_id}/questions"): m.Op(m._get, [m.VIEW_STUDY, VIEW_STARTUP]),
        ("POST", "/startup/studies/{study_id}/questions"): m.Op(
            lambda w, c, p: (p, None, {"text": "Freezer?", "kind": "yes_no", "preferred_answer": "yes"}),
            [m.VIEW_STUDY, VIEW_STARTUP, EDIT_STUDY], ok=201),
        ("GET", "/startup/questions/{question_id}"): m.Op(on_question(lambda q: None),
                                                          [m.VIEW_STUDY, VIEW_STARTUP]),
        ("PATCH", "/startup/questions/{question_id}"): m.Op(
            on_question(lambda q: {"text": "Changed", "version": q.version, "reason": "matrix"}),
            [m.VIEW_STUDY, VIEW_STARTUP, EDIT_STUDY]),
        ("DELETE", "/startup/questions/{question_id}"): m.Op(
            on_question(lambda q: {"version": q.version, "reason": "matrix"}),
            [m.VIEW_STUDY, VIEW_STARTUP, EDIT_STUDY]),
        # responses (at site A1)
        ("GET", "/startup/studies/{study_id}/responses"): m.Op(
            listing_response, [m.VIEW_STUDY, VIEW_STARTUP], listed=("startup.view", "site"),
            contains=response_listed),
        ("GET", "/startup/sites/{site_id}/feasibility"): m.Op(m._get, [m.VIEW_SITE, VIEW_SITE_STARTUP]),
        ("POST", "/startup/sites/{site_id}/feasibility/invite"): m.Op(
            with_question(lambda w, q: {"reason": "matrix"}), [m.VIEW_SITE, VIEW_SITE_STARTUP, EDIT_SITE], ok=201),
        ("POST", "/startup/sites/{site_id}/feasibility/answers"): m.Op(
            with_question(lambda w, q: {"answers": [{"question_id": q.pk, "value": "yes"}], "version": 0}),
            [m.VIEW_SITE, VIEW_SITE_STARTUP, ANSWER]),
        ("POST", "/startup/sites/{site_id}/feasibility/submit"): m.Op(
            with_response(lambda r: {"version": r.version}), [m.VIEW_SITE, VIEW_SITE_STARTUP, ANSWER]),
        ("POST", "/startup/sites/{site_id}/feasibility/reopen"): m.Op(
            with_response(lambda r: {"version": r.version, "reason": "matrix"}, submit=True),
            [m.VIEW_SITE, VIEW_SITE_STARTUP, EDIT_SITE]),
        # ranking and decision
        ("GET", "/startup/studies/{study_id}/ranking"): m.Op(m._get, [m.VIEW_STUDY, VIEW_STARTUP]),
        ("POST", "/startup/sites/{site_id}/decision"): m.Op(
            m._edit(lambda w: w.site, decision="not_selected"),
            [m.VIEW_SITE, VIEW_SITE_STARTUP, EDIT_SITE, ("site.transition", "site", 403)]),
        # template
        ("GET", "/startup/studies/{study_id}/template"): m.Op(with_template(), [m.VIEW_STUDY, VIEW_STARTUP]),
        ("POST", "/startup/studies/{study_id}/template/ensure"): m.Op(
            lambda w, c, p: (p, None, {}), [m.VIEW_STUDY, VIEW_STARTUP, EDIT_STUDY]),
        ("POST", "/startup/studies/{study_id}/template"): m.Op(
            lambda w, c, p: (p, None, {"key": "kickoff", "label": "Kick-off call"}),
            [m.VIEW_STUDY, VIEW_STARTUP, EDIT_STUDY], ok=201),
        ("GET", "/startup/milestone-definitions/{definition_id}"): m.Op(on_definition(lambda d: None),
                                                                        [m.VIEW_STUDY, VIEW_STARTUP]),
        ("PATCH", "/startup/milestone-definitions/{definition_id}"): m.Op(
            on_definition(lambda d: {"target_days": 21, "version": d.version, "reason": "matrix"}),
            [m.VIEW_STUDY, VIEW_STARTUP, EDIT_STUDY]),
        ("DELETE", "/startup/milestone-definitions/{definition_id}"): m.Op(
            on_definition(lambda d: {"version": d.version, "reason": "matrix"}, key="activated"),
            [m.VIEW_STUDY, VIEW_STARTUP, EDIT_STUDY]),
        # site milestones and the tracker
        ("GET", "/startup/sites/{site_id}/milestones"): m.Op(with_template(), [m.VIEW_SITE, VIEW_SITE_STARTUP]),
        ("PATCH", "/startup/sites/{site_id}/milestones/{definition_id}"): m.Op(
            on_definition(lambda d: {"notes": "matrix", "version": 0}),
            [m.VIEW_SITE, VIEW_SITE_STARTUP, VIEW_STARTUP, EDIT_SITE]),
        ("GET", "/startup/studies/{study_id}/tracker"): m.Op(with_template(), [m.VIEW_STUDY, VIEW_STARTUP]),
    }


# --- Pages ---------------------------------------------------------------------------------------------------

def pages(m) -> dict:
    V = m.V

    def question(w):
        if "startup_question" not in w:
            from trialdesk.startup.services import feasibility_question_create

            w["startup_question"] = feasibility_question_create(user=m._boot(), study=w["study_a"], data={
                "text": "Matrix question", "kind": "yes_no", "preferred_answer": "yes"})
        return w["startup_question"]

    def definition(w):
        if "startup_definition" not in w:
            from trialdesk.startup.services import startup_template_ensure

            template = startup_template_ensure(user=m._boot(), study=w["study_a"])
            w["startup_definition"] = next(d for d in template if d.key == "budget_agreed")
        return w["startup_definition"]

    def study_and(perm):
        return m.on((V, "A"), (perm, "A"), kwargs=m.study_a)

    return {
        "startup-tracker": study_and("startup.view"),
        "startup-tracker-export": study_and("startup.view"),
        "startup-candidates": study_and("startup.view"),
        "startup-questions": study_and("startup.view"),
        "startup-question-create": study_and("startup.edit"),
        "startup-question-edit": m.on((V, "A"), ("startup.edit", "A"),
                                      kwargs=lambda w, u: {"question_id": question(w).pk}),
        "startup-question-delete": m.on((V, "A"), ("startup.edit", "A"),
                                        kwargs=lambda w, u: {"question_id": question(w).pk}),
        "startup-template": study_and("startup.view"),
        "startup-template-ensure": study_and("startup.edit"),
        "startup-definition-create": study_and("startup.edit"),
        "startup-definition-edit": m.on((V, "A"), ("startup.edit", "A"),
                                        kwargs=lambda w, u: {"definition_id": definition(w).pk}),
        "startup-definition-delete": m.on((V, "A"), ("startup.edit", "A"),
                                          kwargs=lambda w, u: {"definition_id": definition(w).pk}),
        "site-startup": m.Page(cases=(
            m.Case(kwargs=m.site("site_a1"), needs=(("site.view", "A1"), ("startup.view", "A1"))),
            m.Case(kwargs=m.site("site_a2"), needs=(("site.view", "A2"), ("startup.view", "A2"))))),
        "site-feasibility": m.on(("site.view", "A1"), ("startup.view", "A1"), kwargs=m.site("site_a1")),
        "site-feasibility-invite": m.on(("site.view", "A1"), ("startup.edit", "A1"), kwargs=m.site("site_a1")),
        "site-feasibility-reopen": m.on(("site.view", "A1"), ("startup.edit", "A1"), kwargs=m.site("site_a1")),
        "site-selection-decide": m.on(("site.view", "A1"), ("startup.edit", "A1"), ("site.transition", "A1"),
                                      kwargs=m.site("site_a1")),
        "site-milestone-edit": m.on(("site.view", "A1"), ("startup.edit", "A1"),
                                    kwargs=lambda w, u: {"site_id": w["site_a1"].pk,
                                                         "definition_id": definition(w).pk}),
    }
