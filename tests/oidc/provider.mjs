// The OpenID Connect provider the portal's sign-in tests run against: panva's oidc-provider, an OpenID
// Certified implementation, with its own development login and consent pages. Only the clients and the
// people are the test's, read from the JSON file named on the command line:
//   {"port": 4001, "issuer": "http://localhost:4001",
//    "clients": [{"client_id": "...", "client_secret": "...", "redirect_uris": ["..."]}],
//    "accounts": {"<login>": {"email": "...", "roles": [...], "groups": [...]}}}
// Like Microsoft Entra ID, the ID token carries the person's claims itself (conformIdTokenClaims off);
// the roles and groups scopes release the claims of those names. Prints "listening <issuer>" once ready.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const provider = new Provider(settings.issuer, {
  clients: settings.clients,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    roles: ['roles'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  cookies: { keys: ['tempen-test-provider-cookies-only'] },
  pkce: { required: () => true },
  async findAccount(_ctx, id) {
    const person = settings.accounts[id];
    if (!person) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...person }; } };
  },
});

provider.listen(settings.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${settings.issuer}\n`);
});
