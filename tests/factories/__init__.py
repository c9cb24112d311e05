"""Row factories for tests that need domain state the services would take many steps to build."""
