"""The data contract: the schema of a dataset folder, reading its files, coercing types,
validation rules and their findings (in SQL over a folder's files, in pandas for frames made
in memory), and the :class:`Dataset` (a folder's tables stay in their files as SQL views).

What a dataset folder must look like is written down in docs/data-contract.md; the schema
module is the one source of it in code. May import :mod:`churnlab.core` only.
"""

from churnlab.contract.dataset import Dataset
from churnlab.contract.findings import Finding
from churnlab.contract.validate import (
    ValidationResult,
    check_dataset,
    dataset_from_frames,
    read_dataset,
)

__all__ = [
    "Dataset",
    "Finding",
    "ValidationResult",
    "check_dataset",
    "dataset_from_frames",
    "read_dataset",
]
