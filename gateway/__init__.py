"""Third-Party Gateway: DI application install requests between customer portals and the EAC."""
