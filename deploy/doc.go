// Package deploy holds the deployment files of Agenda (compose.yml for a
// local three-node cluster, stack.yml for Docker Swarm) and the tests that
// run them on a real Docker engine: they build the image, run the compose
// cluster and deploy the stack on a single-node swarm, and are skipped with
// a message where no engine is reachable. See README.md.
package deploy
