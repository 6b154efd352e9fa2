"""Feature definitions as SQL, one module per driver family (see :mod:`churnlab.features.sql.core`)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from churnlab.features.sql.core import Family, Feature, Schema, family_query, quote, snake
from churnlab.features.sql.engagement import ENGAGEMENT
from churnlab.features.sql.lifetime import LIFETIME, MASK_GAPS, mask_gaps_frame
from churnlab.features.sql.onboarding import ONBOARDING
from churnlab.features.sql.price import PRICE
from churnlab.features.sql.profile import PROFILE
from churnlab.features.sql.support import SUPPORT
from churnlab.features.sql.voc import VOC

#: every family's feature definitions, in the registry's order (churnlab.core.families); a
#: driver family may have several blocks (engagement: recent windows, then lifetime signals)
FAMILIES: tuple[Family, ...] = (PRICE, SUPPORT, ONBOARDING, ENGAGEMENT, LIFETIME, VOC, PROFILE)

#: constant tables the families' SQL reads, by name: every engine gets them next to the
#: dataset's tables, ``snaps`` and ``days``
LOOKUPS: dict[str, Callable[[], pd.DataFrame]] = {MASK_GAPS: mask_gaps_frame}

__all__ = ["FAMILIES", "LOOKUPS", "Family", "Feature", "Schema", "family_query", "quote", "snake"]
