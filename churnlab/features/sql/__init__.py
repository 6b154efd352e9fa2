"""Feature definitions as SQL, one module per driver family (see :mod:`churnlab.features.sql.core`)."""

from __future__ import annotations

from churnlab.features.sql.core import Family, Feature, Schema, family_query, quote, snake
from churnlab.features.sql.engagement import ENGAGEMENT
from churnlab.features.sql.lifetime import LIFETIME
from churnlab.features.sql.onboarding import ONBOARDING
from churnlab.features.sql.price import PRICE
from churnlab.features.sql.profile import PROFILE
from churnlab.features.sql.support import SUPPORT
from churnlab.features.sql.voc import VOC

#: every family's feature definitions, in the registry's order (churnlab.core.families); a
#: driver family may have several blocks (engagement: recent windows, then lifetime signals)
FAMILIES: tuple[Family, ...] = (PRICE, SUPPORT, ONBOARDING, ENGAGEMENT, LIFETIME, VOC, PROFILE)

__all__ = ["FAMILIES", "Family", "Feature", "Schema", "family_query", "quote", "snake"]
