"""Forms of the reader pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class FeedbackForm(forms.Form):
    """A reader's rating of an answer on the chat page (+1 helpful, -1 not) and an optional comment of 2000 characters.

    Posted by the page script (which wants JSON back) or by the plain form without JavaScript (redirected back).
    """

    rating = forms.TypedChoiceField(
        label=_("rating"), choices=[("1", _("Helpful")), ("-1", _("Not helpful"))], coerce=int
    )
    comment = forms.CharField(label=_("comment"), required=False, max_length=2000, strip=True)
