"""Feature definitions as SQL, one module per driver family (see :mod:`churnlab.sql.core`)."""

from __future__ import annotations

from churnlab.sql.core import Family, Feature, Schema, family_query, quote, snake
from churnlab.sql.engagement import ENGAGEMENT
from churnlab.sql.onboarding import ONBOARDING
from churnlab.sql.price import PRICE
from churnlab.sql.profile import PROFILE
from churnlab.sql.support import SUPPORT
from churnlab.sql.voc import VOC

#: every family, in churnlab.dataset.FAMILY_ORDER
FAMILIES: tuple[Family, ...] = (PRICE, SUPPORT, ONBOARDING, ENGAGEMENT, VOC, PROFILE)

__all__ = ["FAMILIES", "Family", "Feature", "Schema", "family_query", "quote", "snake"]
