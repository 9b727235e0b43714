// Command etcd is etcd's own server main, built from its Go module at a pinned version.
// `go install go.etcd.io/etcd/server/v3` is refused because etcd's go.mod has replace
// lines, so this module requires the server package and calls its entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
