// Command fault-proxy sits between livebind's agents and the bed's real
// kube-apiserver and injects the faults that the real server does not
// produce on demand: a watch stream cut in the middle of an event, events
// held back, 500 and 429 answers, slow answers.  Everything else (TLS,
// authentication with the agent's own token, RBAC, the objects) is the real
// server's: requests and responses pass through unchanged.
//
// Test infrastructure only (tests/system/control-plane.sh starts it).
//
//	fault-proxy -listen IP:PORT -cert F -key F -upstream https://IP:PORT \
//	    -ca F -control 127.0.0.1:PORT
//
// The control listener (plain HTTP, loopback of the bed's underlay
// namespace) takes:
//
//	POST /faults   {"match": "GET /api/v1/nodes", "status": 500,
//	                "count": 0, "retry_after": 1}
//	               {"match": "PUT /apis/...", "delay_ms": 700, "count": 1}
//	               {"drop_watches": true, "mid_event": true}
//	               {"match": "WATCH /api/v1/pods", "hold_events_ms": 2000,
//	                "count": 1}
//	POST /reset    clears every fault
//	GET  /stats    {"requests": {"GET /api/v1/nodes": 3, ...},
//	                "watches_open": 3, "watches_dropped": 1}
//
// A request's key is "METHOD PATH", with WATCH for a GET with watch=true;
// "match" is a prefix of it ("" matches every stream for a hold).  "count"
// 0 means until reset (a hold: once).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

type fault struct {
	Match      string `json:"match"`
	Status     int    `json:"status"`
	RetryAfter int    `json:"retry_after"`
	DelayMs    int    `json:"delay_ms"`
	Count      int    `json:"count"`

	DropWatches  bool `json:"drop_watches"`
	MidEvent     bool `json:"mid_event"`
	HoldEventsMs int  `json:"hold_events_ms"`
}

type watch struct {
	cancel   context.CancelFunc
	midEvent bool
	dropped  bool
}

type proxy struct {
	mu       sync.Mutex
	faults   []*fault
	holds    []*fault
	watches  map[*watch]bool
	requests map[string]int
	dropped  int
	split    bool
	rp       *httputil.ReverseProxy
}

func key(r *http.Request) string {
	verb := r.Method
	if w := r.URL.Query().Get("watch"); verb == "GET" &&
		(w == "true" || w == "1") {
		verb = "WATCH"
	}
	return verb + " " + r.URL.Path
}

// take returns the first fault matching 'k' and uses one of its count.
func (p *proxy) take(k string) *fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.faults {
		if f.Match != "" && strings.HasPrefix(k, f.Match) {
			if f.Count > 0 {
				f.Count--
				if f.Count == 0 {
					p.faults = append(p.faults[:i], p.faults[i+1:]...)
				}
			}
			return f
		}
	}
	return nil
}

func writeStatus(w http.ResponseWriter, f *fault) {
	reason := map[int]string{500: "InternalError", 429: "TooManyRequests",
		410: "Expired",
		409: "Conflict", 503: "ServiceUnavailable"}[f.Status]
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "code": f.Status, "reason": reason,
		"message": fmt.Sprintf("injected by the bed's fault proxy (%d)",
			f.Status),
	})
}

// streamWriter passes a watch stream through, in pieces of random size
// when splitting (so that chunk boundaries fall inside events), holding
// events back while a hold fault is set.
type streamWriter struct {
	http.ResponseWriter
	p   *proxy
	w   *watch
	key string
}

func (s *streamWriter) Write(b []byte) (int, error) {
	s.p.mu.Lock()
	var hold time.Duration
	for i, f := range s.p.holds {
		if strings.HasPrefix(s.key, f.Match) {
			hold = time.Duration(f.HoldEventsMs) * time.Millisecond
			if f.Count--; f.Count <= 0 {
				s.p.holds = append(s.p.holds[:i], s.p.holds[i+1:]...)
			}
			break
		}
	}
	split := s.p.split
	s.p.mu.Unlock()
	if hold > 0 {
		time.Sleep(hold)
	}
	fl, _ := s.ResponseWriter.(http.Flusher)
	n := 0
	for n < len(b) {
		m := len(b) - n
		if split && m > 1 {
			m = 1 + rand.IntN(m)
		}
		k, err := s.ResponseWriter.Write(b[n : n+m])
		n += k
		if err != nil {
			return n, err
		}
		if fl != nil {
			fl.Flush()
		}
	}
	return n, nil
}

func (s *streamWriter) Flush() {
	if fl, ok := s.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := key(r)
	p.mu.Lock()
	p.requests[k]++
	p.mu.Unlock()

	if f := p.take(k); f != nil {
		if f.DelayMs > 0 {
			time.Sleep(time.Duration(f.DelayMs) * time.Millisecond)
		}
		if f.Status != 0 {
			writeStatus(w, f)
			return
		}
	}
	if !strings.HasPrefix(k, "WATCH ") {
		p.rp.ServeHTTP(w, r)
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	wt := &watch{cancel: cancel}
	p.mu.Lock()
	p.watches[wt] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watches, wt)
		p.mu.Unlock()
		cancel()
	}()
	p.rp.ServeHTTP(&streamWriter{w, p, wt, k}, r.WithContext(ctx))
	p.mu.Lock()
	dropped, mid := wt.dropped, wt.midEvent
	p.mu.Unlock()
	if dropped {
		if mid {
			// Half an event, then the connection goes: the client must
			// throw the fragment away and resume.
			w.Write([]byte(`{"type":"MODIFIED","object":{"kind":"Po`))
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
		}
		// Ends the response without its last chunk: a cut stream, not
		// a clean end of the watch.
		panic(http.ErrAbortHandler)
	}
}

func (p *proxy) control(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == "POST" && r.URL.Path == "/faults":
		f := &fault{}
		if err := json.NewDecoder(r.Body).Decode(f); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		p.mu.Lock()
		switch {
		case f.DropWatches:
			for wt := range p.watches {
				wt.dropped, wt.midEvent = true, f.MidEvent
				wt.cancel()
				p.dropped++
			}
		case f.HoldEventsMs > 0:
			if f.Count <= 0 {
				f.Count = 1
			}
			p.holds = append(p.holds, f)
		default:
			p.faults = append(p.faults, f)
		}
		p.mu.Unlock()
	case r.Method == "POST" && r.URL.Path == "/reset":
		p.mu.Lock()
		p.faults, p.holds = nil, nil
		p.mu.Unlock()
	case r.Method == "POST" && r.URL.Path == "/split":
		p.mu.Lock()
		p.split = r.URL.Query().Get("on") != "0"
		p.mu.Unlock()
	case r.Method == "GET" && r.URL.Path == "/stats":
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"requests": p.requests, "watches_open": len(p.watches),
			"watches_dropped": p.dropped,
		})
		return
	default:
		http.NotFound(w, r)
		return
	}
	w.Write([]byte("{}\n"))
}

func main() {
	listen := flag.String("listen", "", "address for the agents (HTTPS)")
	cert := flag.String("cert", "", "server certificate (PEM)")
	keyf := flag.String("key", "", "server key (PEM)")
	upstream := flag.String("upstream", "", "kube-apiserver URL")
	ca := flag.String("ca", "", "CA that signed kube-apiserver's certificate")
	control := flag.String("control", "127.0.0.1:0", "control address")
	split := flag.Bool("split", false, "pass streams in random pieces")
	flag.Parse()

	up, err := url.Parse(*upstream)
	if err != nil || *listen == "" {
		log.Fatalf("fault-proxy: -listen and -upstream are needed (%v)", err)
	}
	pem, err := os.ReadFile(*ca)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatalf("fault-proxy: no certificate in %s", *ca)
	}
	p := &proxy{watches: map[*watch]bool{}, requests: map[string]int{},
		split: *split}
	p.rp = httputil.NewSingleHostReverseProxy(up)
	p.rp.FlushInterval = -1
	p.rp.Transport = &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}
	p.rp.ErrorLog = log.New(os.Stderr, "fault-proxy: ", log.LstdFlags)

	go func() {
		log.Fatal(http.ListenAndServe(*control, http.HandlerFunc(p.control)))
	}()
	srv := &http.Server{Addr: *listen, Handler: p}
	log.Printf("fault-proxy: %s -> %s, control on %s", *listen, *upstream,
		*control)
	log.Fatal(srv.ListenAndServeTLS(*cert, *keyf))
}
