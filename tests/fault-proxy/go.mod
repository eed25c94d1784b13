// The bed's fault-injecting proxy: test infrastructure, standard library
// only.  utilities/build-k8s.sh builds it with the control plane.
module livebind.test/fault-proxy

go 1.26.0
