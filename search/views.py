"""The server-rendered search page: parse the form, call the search service, render (no LLM, no script needed)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from docintel.errors import DocumentNotFound, InvalidInput, NotFound, TransientError
from docintel.params import int_param
from search.api.serializers import MAX_PAGE
from search.forms import SearchForm
from search.services import SearchPage, search_run

PAGE_SIZE = 10


@login_required
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    """``/search/?q=…``: hits ranked like answering retrieves, matches highlighted, each linked to the source view."""
    form = SearchForm(request.GET or None, user=request.user)
    raw_page = request.GET.get("page", "")
    page_number = int_param(raw_page, maximum=MAX_PAGE) if raw_page else 1
    if page_number is None:
        raise Http404
    result: SearchPage | None = None
    error = ""
    status = 200
    if form.is_bound and form.is_valid() and form.cleaned_data["q"]:
        try:
            result = async_to_sync(search_run)(
                user=request.user,
                text=form.cleaned_data["q"],
                filters=form.filters(),
                page=page_number,
                page_size=PAGE_SIZE,
            )
        except DocumentNotFound:
            error, status = _("That document is not one you may read."), 404
        except NotFound as exc:
            raise Http404 from exc
        except InvalidInput:
            error, status = _("The search could not be understood; check the query and the filters."), 400
        except TransientError:
            error, status = _("Search is unavailable right now; try again in a moment."), 503
    elif form.is_bound and not form.is_valid():
        status = 400
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "result": result, "error": error, "base_query": query.urlencode()}
    return render(request, "search/search.html", context, status=status)
