"""What each dashboard shows, computed from the rollups: the executive's
(``executive``), the channel manager's (``channel``) and the partner's
(``partner``). The views (``reporting.views``) only render them."""
