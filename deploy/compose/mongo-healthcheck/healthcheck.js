// The healthcheck of the compose `mongo` service (docker-compose.prod.yaml), run by
// `mongosh --quiet --file <this file>` inside the container, against the local mongod.
//
// A file rather than `--eval '<script>'`: podman 4.x's Docker-compatible API splits a
// healthcheck argument that contains spaces into words, and mongosh then fails on every check.
// Every argument of the compose healthcheck is a single word; the script lives here.
//
// 1. Log in as root. mongosh reads the password from the secret file itself, so it never
//    appears on a command line or in `docker inspect`.
// 2. On the first check of a new volume rs0 does not exist yet (rs.status() throws): initiate
//    it, with this member named by the host name the services connect to (mongo:27017).
// 3. Healthy (exit 0) once this member is the writable primary; exit 1 until then.
const rootPassword = require('fs')
  .readFileSync('/run/secrets/mongo_root_password', 'utf8')
  .trim();
db.getSiblingDB('admin').auth('root', rootPassword);
try {
  rs.status();
} catch (e) {
  rs.initiate({ _id: 'rs0', members: [{ _id: 0, host: 'mongo:27017' }] });
}
quit(db.hello().isWritablePrimary ? 0 : 1);
