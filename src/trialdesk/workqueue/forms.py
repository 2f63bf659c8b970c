"""Filter form for "My work" (parses input only)."""

from django import forms

from trialdesk.workqueue.items import SEVERITIES
from trialdesk.workqueue.selectors import SEVERITY_LABELS, area_label, area_of, kind_label, kind_labels


class WorkFilterForm(forms.Form):
    study = forms.TypedChoiceField(label="Study", required=False, coerce=int, empty_value=None)
    kind = forms.ChoiceField(label="Kind", required=False)
    severity = forms.ChoiceField(label="Severity", required=False,
                                 choices=[("", "Any severity"), *((s, SEVERITY_LABELS[s]) for s in SEVERITIES)])

    def __init__(self, *args, queue, **kwargs):
        """Choices come from the user's whole queue, with counts, so every option leads somewhere."""
        super().__init__(*args, **kwargs)
        self.fields["study"].choices = [("", "Any study")] + [
            (row["study_id"], f"{row['study_label']} ({row['count']})")
            for row in queue.by_study() if row["study_id"] is not None]
        kinds = queue.by_kind()
        areas: dict[str, int] = {}
        for kind, n in kinds.items():
            areas[area_of(kind)] = areas.get(area_of(kind), 0) + n
        labels = kind_labels()
        choices = [("", "Any kind")]
        for area, n in sorted(areas.items(), key=lambda kv: area_label(kv[0])):
            choices.append((area, f"{area_label(area)}: everything ({n})"))
            choices += [(kind, f"{kind_label(kind, labels)} ({m})") for kind, m in kinds.items()
                        if area_of(kind) == area]
        self.fields["kind"].choices = choices
