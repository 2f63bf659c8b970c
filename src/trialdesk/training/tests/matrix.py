"""Permission-matrix entries for the training area (see core/tests/test_api_permission_matrix.py and
test_page_permission_matrix.py, which import `api_operations(m)` and `pages(m)` from here)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

VIEW = ("training.view", "study", 404)
MANAGE = ("training.manage", "study", 403)
ATTEND = ("training.attend", "study", 403)
IN_BODY = ("study.view", "study", 422)   # a study named in the body that the caller cannot see: a field error


# --- API fixtures (made inside each caller's rolled-back savepoint) ------------------------------------------------

def _admin(w):
    from trialdesk.accounts.roles import Role

    return w.users[(Role.ADMIN, "portfolio")][0]


def _template(w):
    from trialdesk.training.services import training_template_create

    t = training_template_create(user=_admin(w), study=w.study, data={"name": "Matrix template",
                                                                       "checklist": ["Room booked"]})
    w.template_id = t.pk
    return t


def _training(w, *, status: str = "draft", questions: int = 0):
    """An in-service training of study A (from the built-in template), with a past session."""
    from trialdesk.training import services
    from trialdesk.training.models import TrainingTemplate

    admin = _admin(w)
    template = TrainingTemplate.objects.get(builtin=True, name="Study nurse training and inservice")
    t = services.training_create(user=admin, study=w.study, template=template, data={"title": "Matrix training"})
    for i in range(questions):
        services.quiz_question_create(user=admin, training=t, data={"text": f"Q{i}?", "options": ["yes", "no"],
                                                                    "correct": [0]})
    if status == "open":
        t.refresh_from_db()
        t = services.training_transition(user=admin, training=t, status="open", version=t.version, reason="matrix")
    w.training_id = t.pk
    return t


def _session(w, training=None):
    from trialdesk.training.services import training_session_create

    training = training or _training(w, status="open")
    s = training_session_create(user=_admin(w), training=training, sites=[w.site], data={
        "trainer_name": "Matrix Trainer", "starts_at": timezone.now() - dt.timedelta(days=1)})
    w.session_id = s.pk
    return s


def _attendance(w, person, *, attended: bool = False, training=None):
    from trialdesk.training import services

    session = _session(w, training)
    a = services.attendance_invite(user=_admin(w), session=session, people=[person])[0]
    if attended:
        a = services.attendance_record(user=_admin(w), attendance=a, status="attended", version=a.version)
    return a


def _question(w):
    t = _training(w, questions=1)
    return t.questions.get()


def _certificate(w):
    from trialdesk.training.tests.helpers import complete_protocol_training

    cert = complete_protocol_training(_admin(w), w.study, w.person)
    w.certificate_id = cert.pk
    return cert


def _requirement(w):
    from trialdesk.training.services import training_requirement_create

    r = training_requirement_create(user=_admin(w), study=w.study, person=w.person, kind="other",
                                    due_date=dt.date(2026, 9, 1), reason="Pharmacy SOP")
    w.requirement_id = r.pk
    return r


def _on(make, fill):
    """Request builder: make the record, put its id into the path, build the body from it."""
    def request(w, caller, path):
        obj = make(w, caller)
        return path.format(**{"template_id": getattr(w, "template_id", 0), "training_id": getattr(w, "training_id", 0),
                              "session_id": getattr(w, "session_id", 0), "attendance_id": obj.pk,
                              "question_id": obj.pk, "certificate_id": getattr(w, "certificate_id", 0),
                              "requirement_id": getattr(w, "requirement_id", 0)}), None, fill(w, obj)
    return request


def _ids(body):
    return {item["id"] for item in body["items"]}


def _edit(**fields):
    return lambda w, obj: {**fields, "version": obj.version, "reason": "permission matrix"}


def _delete(w, obj):
    return {"version": obj.version, "reason": "permission matrix"}


def _none(w, obj):
    return None


def api_operations(m) -> dict:
    Op = m.Op
    T = "/training"
    template = lambda w, c: _template(w)  # noqa: E731
    training = lambda w, c: _training(w)  # noqa: E731
    session = lambda w, c: _session(w)  # noqa: E731
    question = lambda w, c: _question(w)  # noqa: E731
    certificate = lambda w, c: _certificate(w)  # noqa: E731
    requirement = lambda w, c: _requirement(w)  # noqa: E731

    def listing(make, attr):
        def request(w, caller, path):
            make(w, caller)
            return path, {"study_id": w.study.pk}, None
        return request, (lambda w, c, body: getattr(w, attr) in _ids(body))

    trainings_req, trainings_has = listing(training, "training_id")
    certs_req, certs_has = listing(certificate, "certificate_id")
    reqs_req, reqs_has = listing(requirement, "requirement_id")

    def own_attendance(w, caller):
        return _attendance(w, caller.person, attended=True)

    def own_quiz(w, caller):
        t = _training(w, status="open", questions=1)
        _attendance(w, caller.person, training=t)
        return t

    return {
        # templates
        ("GET", f"{T}/templates"): Op(m._get, contains=lambda w, c, body: bool(body["items"])),
        ("POST", f"{T}/templates"): Op(lambda w, c, p: (p, None, {"study_id": w.study.pk, "name": "New"}),
                                       [IN_BODY, MANAGE], ok=201),
        ("GET", f"{T}/templates/{{template_id}}"): Op(_on(template, _none), [VIEW]),
        ("PATCH", f"{T}/templates/{{template_id}}"): Op(_on(template, _edit(description="Edited")), [VIEW, MANAGE]),
        ("DELETE", f"{T}/templates/{{template_id}}"): Op(_on(template, _delete), [VIEW, MANAGE]),
        ("POST", f"{T}/templates/{{template_id}}/copy"): Op(
            _on(template, lambda w, obj: {"study_id": w.study.pk}), [VIEW, MANAGE], ok=201),
        # trainings
        ("GET", f"{T}/trainings"): Op(trainings_req, listed=("training.view", "study"), contains=trainings_has),
        ("POST", f"{T}/trainings"): Op(lambda w, c, p: (p, None, {"study_id": w.study.pk, "title": "New",
                                                                   "kind": "inservice"}),
                                       [IN_BODY, MANAGE], ok=201),
        ("GET", f"{T}/trainings/{{training_id}}"): Op(_on(training, _none), [VIEW]),
        ("PATCH", f"{T}/trainings/{{training_id}}"): Op(_on(training, _edit(objectives="Edited")), [VIEW, MANAGE]),
        ("DELETE", f"{T}/trainings/{{training_id}}"): Op(_on(training, _delete), [VIEW, MANAGE]),
        ("POST", f"{T}/trainings/{{training_id}}/transition"): Op(_on(training, _edit(status="open")),
                                                                  [VIEW, MANAGE]),
        ("POST", f"{T}/trainings/{{training_id}}/checklist"): Op(
            _on(training, lambda w, obj: {"index": 0, "done": True, "version": obj.version}), [VIEW, MANAGE]),
        ("GET", f"{T}/trainings/{{training_id}}/progress"): Op(_on(training, _none), [VIEW]),
        # sessions and attendance
        ("GET", f"{T}/trainings/{{training_id}}/sessions"): Op(_on(session, _none), [VIEW]),
        ("POST", f"{T}/trainings/{{training_id}}/sessions"): Op(
            _on(training, lambda w, obj: {"starts_at": "2026-03-01T09:00:00Z", "trainer_name": "T"}),
            [VIEW, MANAGE], ok=201),
        ("GET", f"{T}/sessions/{{session_id}}"): Op(_on(session, _none), [VIEW]),
        ("PATCH", f"{T}/sessions/{{session_id}}"): Op(_on(session, _edit(location="Room 2")), [VIEW, MANAGE]),
        ("DELETE", f"{T}/sessions/{{session_id}}"): Op(_on(session, _delete), [VIEW, MANAGE]),
        ("GET", f"{T}/sessions/{{session_id}}/attendance"): Op(_on(session, _none), [VIEW]),
        ("POST", f"{T}/sessions/{{session_id}}/attendance"): Op(
            _on(session, lambda w, obj: {"person_ids": [w.person.pk]}), [VIEW, MANAGE], ok=201),
        ("POST", f"{T}/attendance/{{attendance_id}}/record"): Op(
            _on(lambda w, c: _attendance(w, w.person), _edit(status="attended")), [VIEW, MANAGE]),
        ("POST", f"{T}/attendance/{{attendance_id}}/acknowledge"): Op(
            _on(own_attendance, lambda w, obj: {"password": m.PASSWORD}), [VIEW, ATTEND]),
        # quiz
        ("GET", f"{T}/trainings/{{training_id}}/questions"): Op(_on(question, _none), [VIEW]),
        ("POST", f"{T}/trainings/{{training_id}}/questions"): Op(
            _on(training, lambda w, obj: {"text": "Q?", "options": ["a", "b"], "correct": [1]}), [VIEW, MANAGE],
            ok=201),
        ("PATCH", f"{T}/questions/{{question_id}}"): Op(_on(question, _edit(text="Edited?")), [VIEW, MANAGE]),
        ("DELETE", f"{T}/questions/{{question_id}}"): Op(_on(question, _delete), [VIEW, MANAGE]),
        ("GET", f"{T}/trainings/{{training_id}}/attempts"): Op(_on(training, _none), [VIEW]),
        ("POST", f"{T}/trainings/{{training_id}}/attempts"): Op(
            _on(own_quiz, lambda w, t: {"answers": {str(t.questions.get().pk): [0]}}), [VIEW, ATTEND], ok=201),
        # certificates
        ("GET", f"{T}/certificates/verify"): Op(lambda w, c, p: (p, {"number": _certificate(w).number}, None)),
        ("GET", f"{T}/certificates"): Op(certs_req, listed=("training.view", "study"), contains=certs_has),
        ("GET", f"{T}/certificates/{{certificate_id}}"): Op(_on(certificate, _none), [VIEW]),
        ("GET", f"{T}/certificates/{{certificate_id}}/pdf"): Op(_on(certificate, _none), [VIEW]),
        ("POST", f"{T}/certificates/{{certificate_id}}/revoke"): Op(
            _on(certificate, lambda w, obj: {"reason": "permission matrix"}), [VIEW, MANAGE]),
        # requirements
        ("GET", f"{T}/requirements"): Op(reqs_req, listed=("training.view", "study"), contains=reqs_has),
        ("POST", f"{T}/requirements"): Op(
            lambda w, c, p: (p, None, {"study_id": w.study.pk, "person_id": w.person.pk, "kind": "other",
                                       "due_date": "2026-09-01"}), [IN_BODY, MANAGE], ok=201),
        ("GET", f"{T}/requirements/{{requirement_id}}"): Op(_on(requirement, _none), [VIEW]),
        ("PATCH", f"{T}/requirements/{{requirement_id}}"): Op(_on(requirement, _edit(due_date="2026-10-01")),
                                                              [VIEW, MANAGE]),
        ("POST", f"{T}/requirements/{{requirement_id}}/waive"): Op(_on(requirement, _delete), [VIEW, MANAGE]),
        # matrix and one's own
        ("GET", f"{T}/studies/{{study_id}}/matrix"): Op(m._get, [m.VIEW_STUDY, VIEW]),
        ("GET", f"{T}/studies/{{study_id}}/matrix.xlsx"): Op(m._get, [m.VIEW_STUDY, VIEW]),
        ("GET", f"{T}/mine"): Op(m._get),
    }


# --- Web pages (records made once per world by the page matrix's boot admin) --------------------------------------

def _page_world(m, w) -> dict:
    """A training of study A with a past session (the world's person attended, acknowledged and was certified),
    a quiz question, a study template and an open requirement, made once per world."""
    if "training_page" not in w:
        from trialdesk.training import services
        from trialdesk.training.tests.helpers import complete_protocol_training

        boot = m._boot()
        study = w["study_a"]
        cert = complete_protocol_training(boot, study, w["person"])
        training = cert.training
        question = services.quiz_question_create(user=boot, training=training, data={
            "text": "Who signs the delegation log?", "options": ["The PI", "The monitor"], "correct": [0]})
        template = services.training_template_create(user=boot, study=study, data={"name": "Study A template"})
        requirement = services.training_requirement_create(user=boot, study=study, person=w["person"],
                                                           kind="other", due_date=dt.date(2026, 9, 1))
        attendance = cert.session.attendance.get(person=w["person"])
        w["training_page"] = {"training_id": training.pk, "session_id": cert.session_id,
                              "attendance_id": attendance.pk, "question_id": question.pk,
                              "certificate_id": cert.pk, "template_id": template.pk,
                              "requirement_id": requirement.pk}
    return w["training_page"]


def _kw(m, *names):
    return lambda w, u: {name: _page_world(m, w)[name] for name in names}


def pages(m) -> dict:
    from trialdesk.training.models import TrainingTemplate

    V = ("study.view", "A")
    TV = ("training.view", "A")
    TM = ("training.manage", "A")
    TA = ("training.attend", "A")
    on, study_a = m.on, m.study_a

    def builtin_copy(w, u):
        return {"study_id": w["study_a"].pk,
                "template_id": TrainingTemplate.objects.get(builtin=True, name="Study nurse protocol training").pk}

    return {
        "study-training": on(V, TV, kwargs=study_a),
        "training-create": on(V, TM, kwargs=study_a),
        "training-matrix": on(V, TV, kwargs=study_a),
        "training-matrix-xlsx": on(V, TV, kwargs=study_a),
        "training-requirements": on(V, TV, kwargs=study_a),
        "training-templates": on(V, TV, kwargs=study_a),
        "training-template-copy": on(V, TM, kwargs=builtin_copy),
        "site-training": m.Page(cases=(
            m.Case(kwargs=m.site("site_a1"), needs=(("site.view", "A1"), ("training.view", "A1"))),
            m.Case(kwargs=m.site("site_a2"), needs=(("site.view", "A2"), ("training.view", "A2"))))),
        "my-training": on(),
        "training-certificate-verify": on(),
        "training-certificate": on(TV, kwargs=_kw(m, "certificate_id")),
        "training-certificate-pdf": on(TV, kwargs=_kw(m, "certificate_id")),
        "training-certificate-revoke": on(TV, TM, kwargs=_kw(m, "certificate_id")),
        "training-template-edit": on(TV, TM, kwargs=_kw(m, "template_id")),
        "training-detail": on(TV, kwargs=_kw(m, "training_id")),
        "training-edit": on(TV, TM, kwargs=_kw(m, "training_id")),
        "training-transition": on(TV, TM, kwargs=_kw(m, "training_id")),
        "training-checklist": on(TV, TM, kwargs=_kw(m, "training_id")),
        "training-session-create": on(TV, TM, kwargs=_kw(m, "training_id")),
        "training-question-create": on(TV, TM, kwargs=_kw(m, "training_id")),
        "training-quiz": on(TV, TA, kwargs=_kw(m, "training_id")),
        "training-session-edit": on(TV, TM, kwargs=_kw(m, "session_id")),
        "training-session-attendance": on(TV, kwargs=_kw(m, "session_id")),
        "training-acknowledge": on(TV, TA, kwargs=_kw(m, "attendance_id")),
        "training-question-edit": on(TV, TM, kwargs=_kw(m, "question_id")),
        "training-question-delete": on(TV, TM, kwargs=_kw(m, "question_id")),
        "training-requirement-waive": on(TV, TM, kwargs=_kw(m, "requirement_id")),
    }
