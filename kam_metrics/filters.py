"""The account filters every metric and page accepts (region, segment, KAM owner, key accounts only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    """Which accounts a figure covers; empty tuples mean no restriction. Hashable, so it can key caches."""

    regions: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    kam_owners: tuple[str, ...] = ()
    key_only: bool = False

    def sql(self, alias: str = "a") -> tuple[str, list]:
        """A SQL condition on the accounts table (aliased `alias`) and its parameters; 'TRUE' when unfiltered."""
        parts: list[str] = []
        params: list = []
        for column, values in (("region", self.regions), ("segment", self.segments), ("kam_owner", self.kam_owners)):
            if values:
                parts.append(f"{alias}.{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if self.key_only:
            parts.append(f"{alias}.is_key_account")
        return (" AND ".join(parts) if parts else "TRUE"), params

    @property
    def is_whole_programme(self) -> bool:
        """Whether every key account is covered (no region, segment or KAM owner restriction; key_only keeps them)."""
        return not (self.regions or self.segments or self.kam_owners)

    @property
    def is_empty(self) -> bool:
        return not (self.regions or self.segments or self.kam_owners or self.key_only)


NO_FILTERS = Filters()
