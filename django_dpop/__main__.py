"""``python -m django_dpop``: the DPoP command line (see :mod:`django_dpop.client.cli`)."""

from __future__ import annotations

import sys

from django_dpop.client.cli import main


sys.exit(main())
