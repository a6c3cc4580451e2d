"""URLs of a tenant's portal (any tenant host)."""

from django.urls import include, path

from prm.tenancy import account_views, registry, styleguide
from prm.tenancy import views as tenancy_views
from prm.tenancy.admin_base import tenant_admin_site

urlpatterns = [
    path("", tenancy_views.home, name="home"),
    path("people/", tenancy_views.people, name="people"),
    path("people/invite/", tenancy_views.people_invite, name="people_invite"),
    path(
        "people/invitations/<uuid:invitation_id>/revoke/",
        tenancy_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "people/members/<uuid:membership_id>/active/",
        tenancy_views.membership_set_active,
        name="membership_set_active",
    ),
    path("invitations/<str:token>/", tenancy_views.accept_invitation, name="accept_invitation"),
    path("notifications/", tenancy_views.notifications, name="notifications"),
    path(
        "notifications/read-all/",
        tenancy_views.notifications_read_all,
        name="notifications_read_all",
    ),
    path("notifications/read/", tenancy_views.notification_read, name="notification_read"),
    path("notifications/open/", tenancy_views.notification_open, name="notification_open"),
    path("account/", account_views.overview, name="account"),
    path("account/profile/", account_views.profile, name="account_profile"),
    path("account/mails/", account_views.mails, name="account_mails"),
    path("style-guide/", styleguide.style_guide, name="style_guide"),
    path("api/v1/", include("prm.api.urls")),
    # Each app's pages, where its declaration puts them.
    *(path(prefix, include(module)) for prefix, module in registry.url_modules()),
    path("accounts/", include("allauth.urls")),
    path("admin/", tenant_admin_site.urls),
]

# An uncaught PostgreSQL or Redis outage answers the 503 page (prm.tenancy.outage).
handler500 = "prm.tenancy.outage.server_error"
handler400 = "prm.tenancy.outage.bad_request"
# allauth's "too many attempts" page, with when to try again (prm.tenancy.ratelimits).
handler429 = "prm.tenancy.ratelimits.handler429"
