-- A tenant may let its administrators sign in with its own OpenID Connect provider (a public
-- client with PKCE: no secret is stored).
ALTER TABLE tenants ADD COLUMN oidc_issuer TEXT;
ALTER TABLE tenants ADD COLUMN oidc_client_id TEXT;
