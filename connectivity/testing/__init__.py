"""Test helpers every venue reuses: fakes and the shared contract suite."""
