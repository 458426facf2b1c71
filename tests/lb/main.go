// Command lb is the load balancer of the end-to-end tests that run mlship as several
// replicas: it listens on one address and sends each request to the next of its backends
// in turn, as a Kubernetes Service spreads connections, but per request, so that every
// client's consecutive calls land on different servers.
//
//	lb --listen 127.0.0.1:5000 http://127.0.0.1:5001 http://127.0.0.1:5002 http://127.0.0.1:5003
//
// A backend that refuses the connection is skipped for that request (the next one is
// tried), so a replica that was killed takes no traffic down with it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on; the address taken is printed on the first line")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: lb [--listen ADDR] BACKEND_URL...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var backends []*url.URL
	for _, a := range flag.Args() {
		u, err := url.Parse(a)
		if err != nil || u.Host == "" {
			log.Fatalf("lb: backend %q is not a URL", a)
		}
		backends = append(backends, u)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("lb: %v", err)
	}
	fmt.Println("http://" + ln.Addr().String())
	var next atomic.Uint64
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backends[next.Add(1)%uint64(len(backends))])
			r.Out.Host = r.In.Host
		},
		Transport:     retrying{transport, backends},
		FlushInterval: -1, // streams as it goes: downloads, server-sent events
	}
	srv := &http.Server{Handler: proxy}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("lb: %v", err)
	}
}

// retrying sends a request to the next backend when its own refuses the connection:
// the request was not sent, so trying it elsewhere cannot apply it twice.
type retrying struct {
	rt       http.RoundTripper
	backends []*url.URL
}

func (t retrying) RoundTrip(r *http.Request) (*http.Response, error) {
	var err error
	for range t.backends {
		var resp *http.Response
		resp, err = t.rt.RoundTrip(r)
		var op *net.OpError
		if err == nil || !errors.As(err, &op) || op.Op != "dial" || (r.Body != nil && r.Body != http.NoBody && r.GetBody == nil) {
			return resp, err
		}
		for i, b := range t.backends { // the one after the refusing backend
			if b.Host == r.URL.Host {
				r.URL.Host = t.backends[(i+1)%len(t.backends)].Host
				break
			}
		}
		if r.GetBody != nil {
			if r.Body, err = r.GetBody(); err != nil {
				return nil, err
			}
		}
	}
	return nil, err
}
