"""Hypothesis settings and strategies shared by the fuzz tests.

The default run is short (``DEFAULT_EXAMPLES`` per test, a few seconds for the whole suite); set
``DPOP_FUZZ_EXAMPLES`` for a long run, e.g. ``DPOP_FUZZ_EXAMPLES=20000`` (docs/security.md,
"Fuzzing"). No example database is written (``database=None``): runs leave no files behind, and a
failure prints the falsifying example to reproduce with ``@example``.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


DEFAULT_EXAMPLES = 60
EXAMPLES = int(os.environ.get("DPOP_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # timing is the benchmarks' business, never a test's
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# For tests parametrized into many cases (one per check): a quarter each, at least 10.
FUZZ_EACH = settings(FUZZ, max_examples=max(EXAMPLES // 4, 10))

# Any JSON value (RFC 8259) that json.dumps writes as JSON: no NaN or infinities here.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
