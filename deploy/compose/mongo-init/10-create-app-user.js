// Runs once, on the first start of the compose MongoDB (an empty data volume), as the root
// user, before the replica set exists (the image's entrypoint runs /docker-entrypoint-initdb.d).
// Creates the user the services connect as: it reads and writes every database (each tenant
// has its own, created on demand) and administers nothing.
// The password is read from the secret file here, so it never appears on a command line.
const fs = require('fs');
const user = process.env.POS_MONGO_APP_USER;
const password = fs.readFileSync(process.env.POS_MONGO_APP_PASSWORD_FILE, 'utf8').trim();
db.getSiblingDB('admin').createUser({
  user: user,
  pwd: password,
  roles: [{ role: 'readWriteAnyDatabase', db: 'admin' }],
});
print(`created MongoDB user ${user} (readWriteAnyDatabase)`);
