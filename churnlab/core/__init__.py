"""The vocabulary every layer shares: the user-error type, calendar months, the churn definition
and the driver-family registry.

Holds only small, dependency-free building blocks. May import nothing from churnlab outside
``core``; every other folder may import it.
"""
