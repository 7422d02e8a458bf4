"""``dpop_bound_access_tokens`` (RFC 9449 §5.2) editable next to DOT's Application in the admin.

DOT's (possibly swapped) Application admin is re-registered with an inline added, only when DOT
registered it: a project that replaced or removed DOT's admin keeps its own choice.
"""

from __future__ import annotations

# DOT's admin first, whatever the order of INSTALLED_APPS (autodiscover would import it anyway).
import oauth2_provider.admin  # noqa: F401
from django.contrib import admin
from oauth2_provider.models import get_application_model

from .models import ApplicationPolicy


class ApplicationPolicyInline(admin.StackedInline):
    model = ApplicationPolicy
    can_delete = False
    extra = 1
    max_num = 1
    verbose_name = "DPoP"
    verbose_name_plural = "DPoP"


def add_policy_inline(site: admin.AdminSite = admin.site) -> bool:
    """Re-register the Application admin with :class:`ApplicationPolicyInline`; False if absent."""
    application_model = get_application_model()
    current = site._registry.get(application_model)
    if current is None:
        return False
    if ApplicationPolicyInline in (current.inlines or ()):
        return True
    admin_class = type(
        current.__class__.__name__,
        (current.__class__,),
        {"inlines": [*current.inlines, ApplicationPolicyInline], "__module__": __name__},
    )
    site.unregister(application_model)
    site.register(application_model, admin_class)
    return True


add_policy_inline()
