"""Users and groups in the admin, audited."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from docintel.admin_audit import AuditedAdminMixin
from docintel.models import User

admin.site.site_header = _("DocIntel back-office")
admin.site.site_title = _("DocIntel")
admin.site.index_title = _("Library administration")


class EmailUserCreationForm(UserCreationForm):  # type: ignore[type-arg]  # django-stubs generic form
    """The admin's add-user form: an email address and the password twice (the custom User has no username)."""

    class Meta:
        """Bound to the custom User; the email is the only model field asked (the passwords come from the form)."""

        model = User
        fields = ("email",)


class EmailUserChangeForm(UserChangeForm):  # type: ignore[type-arg]  # django-stubs generic form
    """The admin's change-user form: every User field, the password as a read-only hash summary with a change link."""

    class Meta:
        """Every field of the custom User; :class:`UserAdmin`'s fieldsets choose which are shown."""

        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(AuditedAdminMixin, BaseUserAdmin):  # type: ignore[type-arg]  # stubs type BaseUserAdmin generically
    """The back-office's accounts, keyed by email: profile, active/staff/superuser flags and groups, audited.

    Groups carry both the roles (Librarian, Reader) and the access groups documents are shared with, so this page
    decides what a person may do and read; each add, change and delete also writes an AuditLog row.
    """

    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ("email",)
    list_display = ("email", "display_name", "is_staff", "is_superuser", "is_active", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "display_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("display_name", "first_name", "last_name")}),
        (_("Roles and access groups"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ("groups",)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(AuditedAdminMixin, BaseGroupAdmin):
    """Django's group admin (name and permissions) for roles and access groups alike, with every change audited."""
