"""LTI 1.3: OIDC login, launch, JWKS, deep linking, NRPS and registrations kept in the database."""
