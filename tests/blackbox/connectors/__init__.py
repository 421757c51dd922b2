"""Black-box tests of sluice's connectors (spec/connectors.md)."""
