"""Forms of the authoring page in the admin (``modules.admin.ModuleAdmin``): a module's titles, summaries and guides,
its hints and its reflection questions as typed fields, never JSON.

The forms check what a single field can say (required texts, id patterns, a choice question's choices); the rest —
the schemas, hint steps, the facts and figures a guide cites — is the content loader's own validation, which
``modules.services.content_revise`` runs on the whole document. Text areas arrive with CRLF line ends (HTML forms
send them so); they are stored with LF, as in ``content/``, so an export round-trips byte for byte.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from modules import authoring

_ID = RegexValidator(r"^[a-z0-9][a-z0-9_-]*$", _("lower-case letters, digits, - and _ only"))
_CHOICE_ID = RegexValidator(r"^[a-z0-9]+$", _("lower-case letters and digits only"))


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _area(rows: int, **attrs: str) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": str(rows), **attrs})


class ModuleTextForm(forms.Form):
    """Titles, summaries and the two guides."""

    title_en = forms.CharField(label=_("Title (English)"), max_length=200)
    title_zh = forms.CharField(label=_("Title (Chinese)"), max_length=200)
    summary_en = forms.CharField(label=_("Summary (English)"), widget=_area(3))
    summary_zh = forms.CharField(label=_("Summary (Chinese)"), widget=_area(3))
    guide_en = forms.CharField(
        label=_("Guide (English, Markdown)"),
        required=False,
        strip=False,
        widget=_area(28, **{"data-preview-lang": "en", "class": "authoring-source", "spellcheck": "false"}),
    )
    guide_zh = forms.CharField(
        label=_("Guide (Chinese, Markdown)"),
        required=False,
        strip=False,
        widget=_area(28, **{"data-preview-lang": "zh", "class": "authoring-source", "spellcheck": "false"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for lang in authoring.LANGS:
            data[f"guide_{lang}"] = _lf(data.get(f"guide_{lang}") or "")
            data[f"summary_{lang}"] = _lf(data.get(f"summary_{lang}") or "")
        if not (data["guide_en"].strip() or data["guide_zh"].strip()):
            raise forms.ValidationError(_("A module needs a guide in English or Chinese."))
        return data


class HintForm(forms.Form):
    """One hint: its step and level (1 nudge, 2 method, 3 near-solution) and its text in both languages."""

    id = forms.CharField(label=_("id"), max_length=40, validators=[_ID])
    step = forms.ChoiceField(label=_("step"))
    level = forms.TypedChoiceField(label=_("level"), choices=[(1, "1"), (2, "2"), (3, "3")], coerce=int)
    text_en = forms.CharField(label=_("Hint (English)"), widget=_area(2))
    text_zh = forms.CharField(label=_("Hint (Chinese)"), widget=_area(2))

    def __init__(self, *args: Any, steps: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        step = self.fields["step"]
        assert isinstance(step, forms.ChoiceField)
        step.choices = [(s, s) for s in steps]
        # an untouched extra form posts the first step and level 1: as initial values they leave it "unchanged"
        step.initial = steps[0] if steps else None
        self.fields["level"].initial = 1


class QuestionForm(forms.Form):
    """One reflection question: free text, or a choice question with its choices and (optionally) its answer."""

    id = forms.CharField(label=_("id"), max_length=40, validators=[_ID])
    kind = forms.ChoiceField(
        label=_("kind"), choices=[("text", _("free text")), ("choice", _("choice"))], initial="text"
    )
    prompt_en = forms.CharField(label=_("Question (English)"), widget=_area(2))
    prompt_zh = forms.CharField(label=_("Question (Chinese)"), widget=_area(2))
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=_area(3),
        help_text=_("one per line: id | English | Chinese"),
    )
    answer = forms.CharField(
        label=_("Answer"), required=False, max_length=20, help_text=_("the id of the right choice")
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        parsed = []
        for number, line in enumerate(_lf(data.get("choices") or "").splitlines(), 1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|")]
            if len(parts) != 3 or not all(parts):
                self.add_error("choices", _("line %(n)d: write id | English | Chinese") % {"n": number})
                continue
            try:
                _CHOICE_ID(parts[0])
            except forms.ValidationError:
                self.add_error(
                    "choices", _("line %(n)d: the id must be lower-case letters and digits") % {"n": number}
                )
                continue
            parsed.append({"id": parts[0], "text": {"en": parts[1], "zh": parts[2]}})
        data["parsed_choices"] = parsed
        if data.get("kind") == "choice":
            if len(parsed) < 2:
                self.add_error("choices", _("A choice question needs at least two choices."))
            elif data.get("answer") and data["answer"] not in {c["id"] for c in parsed}:
                self.add_error("answer", _("The answer must be the id of one of the choices."))
        elif parsed or data.get("answer"):
            self.add_error("kind", _("Only a choice question has choices and an answer."))
        return data


class UniqueIdFormSet(forms.BaseFormSet):
    """Rows kept must have distinct ids: learners' hint reveals and reflection answers are stored by id."""

    def clean(self) -> None:
        super().clean()
        ids = [row["id"] for row in _kept(self)]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise forms.ValidationError(
                _("Each id may be used once: %(ids)s") % {"ids": ", ".join(duplicates)}
            )


HintFormSet = forms.formset_factory(HintForm, formset=UniqueIdFormSet, extra=1, can_delete=True)
QuestionFormSet = forms.formset_factory(QuestionForm, formset=UniqueIdFormSet, extra=1, can_delete=True)


def initial_of(doc: authoring.Document) -> dict[str, Any]:
    """The forms' initial data for an authoring document (``text``, ``hints``, ``reflection``)."""
    text = {}
    for lang in authoring.LANGS:
        text[f"title_{lang}"] = doc["title"].get(lang, "")
        text[f"summary_{lang}"] = doc["summary"].get(lang, "")
        text[f"guide_{lang}"] = doc[f"guide.{lang}"]
    hints = [
        {
            "id": h["id"],
            "step": h["step"],
            "level": h["level"],
            "text_en": h["text"]["en"],
            "text_zh": h["text"]["zh"],
        }
        for h in doc["hints"]
    ]
    questions = [
        {
            "id": q["id"],
            "kind": q["kind"],
            "prompt_en": q["prompt"]["en"],
            "prompt_zh": q["prompt"]["zh"],
            "choices": "\n".join(
                f"{c['id']} | {c['text']['en']} | {c['text']['zh']}" for c in q.get("choices") or []
            ),
            "answer": q.get("answer", ""),
        }
        for q in doc["reflection"]
    ]
    return {"text": text, "hints": hints, "reflection": questions}


def _kept(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    """The cleaned data of the forms kept, in order: not deleted, and for an extra form, filled in."""
    initial = formset.initial_form_count()
    return [
        form.cleaned_data
        for index, form in enumerate(formset.forms)
        if (index < initial or form.has_changed())
        and form.cleaned_data
        and not form.cleaned_data.get("DELETE")
    ]


def document_of(
    text: ModuleTextForm, hints: forms.BaseFormSet, questions: forms.BaseFormSet
) -> authoring.Document:
    """The authoring document the valid forms describe (keys in ``content/``'s order, so exports read alike)."""
    data = text.cleaned_data
    reflection = []
    for q in _kept(questions):
        item: dict[str, Any] = {
            "id": q["id"],
            "kind": q["kind"],
            "prompt": {"en": _lf(q["prompt_en"]), "zh": _lf(q["prompt_zh"])},
        }
        if q["kind"] == "choice":
            item["choices"] = q["parsed_choices"]
            if q.get("answer"):
                item["answer"] = q["answer"]
        reflection.append(item)
    return {
        "title": {lang: data[f"title_{lang}"] for lang in authoring.LANGS},
        "summary": {lang: data[f"summary_{lang}"] for lang in authoring.LANGS},
        **{f"guide.{lang}": data[f"guide_{lang}"] for lang in authoring.LANGS},
        "hints": [
            {
                "id": h["id"],
                "step": h["step"],
                "level": h["level"],
                "text": {"en": _lf(h["text_en"]), "zh": _lf(h["text_zh"])},
            }
            for h in _kept(hints)
        ],
        "reflection": reflection,
    }
