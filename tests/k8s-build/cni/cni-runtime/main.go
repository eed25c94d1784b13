// Command cni-runtime invokes CNI plugins the way a container runtime
// does: through libcni, the CNI project's runtime library (the one
// containerd and CRI-O use), from a conflist in a configuration directory,
// with the result cache that gives CHECK and DEL their prevResult and GC
// its attachments.  cnitool does the same but derives the container ID
// from the netns path, takes no pod arguments per call and keeps its cache
// in /var/lib/cni; a test needs all three under its control.
//
// Test infrastructure only (utilities/build-k8s.sh builds it).
//
//	cni-runtime -conf-dir DIR -net NAME -cache-dir DIR -path DIRS \
//	    add|check|del -container-id ID -netns PATH [-ifname eth0] \
//	        [-args 'K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;...']
//	cni-runtime ... status
//	cni-runtime ... version                     (the first plugin's)
//	cni-runtime ... gc [-valid ID/IFNAME,...]   (default: the cached ones
//	                                             minus -drop ID,...)
//
// ADD prints the result; every command exits 0 or prints libcni's error
// (with the plugin's code and message) and exits 1, a plugin's error JSON
// on stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func main() {
	confDir := flag.String("conf-dir", "/etc/cni/net.d", "conflist directory")
	netName := flag.String("net", "", "network name (conflist's \"name\")")
	cacheDir := flag.String("cache-dir", "", "libcni's result cache")
	path := flag.String("path", os.Getenv("CNI_PATH"), "plugin directories")
	containerID := flag.String("container-id", "", "container (sandbox) ID")
	netns := flag.String("netns", "", "network namespace path")
	ifName := flag.String("ifname", "eth0", "interface name")
	cniArgs := flag.String("args", "", "CNI_ARGS, K=V;K=V")
	valid := flag.String("valid", "", "GC: valid attachments ID/IF,...")
	drop := flag.String("drop", "", "GC: cached containers to forget, ID,...")
	timeout := flag.Duration("timeout", 60*time.Second, "per command")
	flag.Parse()
	if flag.NArg() != 1 || *netName == "" || *cacheDir == "" {
		fmt.Fprintln(os.Stderr, "usage: cni-runtime -net NAME -cache-dir DIR "+
			"[options] add|check|del|status|gc|version")
		os.Exit(2)
	}

	list, err := libcni.LoadNetworkConf(*confDir, *netName)
	if err != nil {
		fail(err)
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(*path),
		*cacheDir, nil)
	rt := &libcni.RuntimeConf{ContainerID: *containerID, NetNS: *netns,
		IfName: *ifName}
	if *cniArgs != "" {
		for _, kv := range strings.Split(*cniArgs, ";") {
			k, v, _ := strings.Cut(kv, "=")
			rt.Args = append(rt.Args, [2]string{k, v})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	switch cmd := flag.Arg(0); cmd {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		err = cni.CheckNetworkList(ctx, list, rt)
	case "del":
		err = cni.DelNetworkList(ctx, list, rt)
	case "status":
		err = cni.GetStatusNetworkList(ctx, list)
	case "version":
		// What the first plugin of the list supports, as a runtime asks.
		info, err := cni.GetVersionInfo(ctx, list.Plugins[0].Network.Type)
		if err != nil {
			fail(err)
		}
		json.NewEncoder(os.Stdout).Encode(map[string]any{
			"supportedVersions": info.SupportedVersions()})
	case "gc":
		args := &libcni.GCArgs{}
		if *valid != "" {
			for _, a := range strings.Split(*valid, ",") {
				id, ifn, _ := strings.Cut(a, "/")
				args.ValidAttachments = append(args.ValidAttachments,
					types.GCAttachment{ContainerID: id, IfName: ifn})
			}
		} else {
			// As a runtime does: what it still has, minus what it lost.
			dropped := strings.Split(*drop, ",")
			cached, err := cni.GetCachedAttachments("")
			if err != nil {
				fail(err)
			}
			for _, a := range cached {
				if a.Network == list.Name &&
					!slices.Contains(dropped, a.ContainerID) {
					args.ValidAttachments = append(args.ValidAttachments,
						types.GCAttachment{ContainerID: a.ContainerID,
							IfName: a.IfName})
				}
			}
		}
		err = cni.GCNetworkList(ctx, list, args)
	default:
		fmt.Fprintf(os.Stderr, "cni-runtime: unknown command %q\n", cmd)
		os.Exit(2)
	}
	if err != nil {
		fail(err)
	}
}

// fail reports libcni's error; a plugin's own CNI error (code, msg,
// details) also goes to stdout as the plugin wrote it, for the tests to
// read its code.
func fail(err error) {
	var e *types.Error
	if errors.As(err, &e) {
		e.Print()
	}
	fmt.Fprintf(os.Stderr, "cni-runtime: %v\n", err)
	os.Exit(1)
}
