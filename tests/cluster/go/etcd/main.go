// Command etcd is the etcd server at the version k8s.io/kubernetes pins in its go.mod,
// built so the test control plane does not depend on a distribution package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
