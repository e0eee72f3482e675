"""The grassroots-contact system (领导干部联系基层制度, Attachment 1): contact points and contact records."""
