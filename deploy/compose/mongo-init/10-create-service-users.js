// The MongoDB users the services connect as: one per service (cart, master_data), each with
// one custom role granting actions on that service's own collection names in every database
// (tenant databases are made on demand). Users, roles and actions are read from
// deploy/mongo/roles.json (mounted at POS_MONGO_ROLES_FILE), the one definition compose,
// Kubernetes and the tests share.
//
// Runs once, on the first start of the compose MongoDB (an empty data volume): the image's
// entrypoint runs /docker-entrypoint-initdb.d/*.js against a temporary mongod without access
// control, right after creating the root user. Run it again on a running deployment to create
// the users of an older deployment or to apply a changed roles.json (docs/deploy.md):
//   scripts/compose.sh exec -T mongo mongosh --quiet \
//     --file /docker-entrypoint-initdb.d/10-create-service-users.js
// It then logs in as root itself. Roles and users are created, or updated when they exist.
// Passwords are read from the secret files here (POS_MONGO_<USER>_PASSWORD_FILE), so they
// never appear on a command line.
const fs = require('fs');

function secret(variable) {
  const path = process.env[variable];
  if (!path) {
    throw new Error(`${variable} is not set`);
  }
  const value = fs.readFileSync(path, 'utf8').trim();
  if (!value) {
    throw new Error(`${path} (${variable}) is empty`);
  }
  return value;
}

const admin = db.getSiblingDB('admin');
const status = admin.runCommand({ connectionStatus: 1 });
const loggedIn = status.authInfo.authenticatedUsers.length > 0;
if (!loggedIn && process.env.MONGO_INITDB_ROOT_PASSWORD_FILE) {
  // Run by hand in the running container (the entrypoint's first run needs no login).
  admin.auth(
    process.env.MONGO_INITDB_ROOT_USERNAME || 'root',
    secret('MONGO_INITDB_ROOT_PASSWORD_FILE'),
  );
}

const definition = JSON.parse(fs.readFileSync(process.env.POS_MONGO_ROLES_FILE, 'utf8'));
for (const [user, spec] of Object.entries(definition.users)) {
  // Only what MongoDB knows: each privilege's `why` stays in the file.
  const privileges = spec.privileges.map((p) => ({ resource: p.resource, actions: p.actions }));
  if (admin.getRole(spec.role) === null) {
    admin.createRole({ role: spec.role, privileges: privileges, roles: [] });
    print(`created role ${spec.role}`);
  } else {
    admin.updateRole(spec.role, { privileges: privileges, roles: [] });
    print(`updated role ${spec.role}`);
  }
  const password = secret(`POS_MONGO_${user.toUpperCase()}_PASSWORD_FILE`);
  const roles = [{ role: spec.role, db: 'admin' }];
  if (admin.getUser(user) === null) {
    admin.createUser({ user: user, pwd: password, roles: roles });
    print(`created MongoDB user ${user} (role ${spec.role})`);
  } else {
    admin.updateUser(user, { pwd: password, roles: roles });
    print(`updated MongoDB user ${user} (role ${spec.role})`);
  }
}
