package netguard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/netguard"
)

func mustPolicy(t *testing.T, entries ...string) *netguard.Policy {
	t.Helper()
	p, err := netguard.Parse(entries)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	def := mustPolicy(t)
	refused := []string{
		"127.0.0.1:80", "127.1.2.3:80", "[::1]:80", "[::ffff:127.0.0.1]:80", "[::ffff:7f00:1]:80",
		"0.0.0.0:80", "[::]:80", "[::ffff:0.0.0.0]:80",
		"169.254.169.254:80", "[::ffff:169.254.169.254]:80", "[fe80::1]:80", "[fe80::1%eth0]:80",
		"10.0.0.1:80", "10.255.255.255:80", "172.16.0.1:80", "172.31.255.255:80", "192.168.1.1:80",
		"[fc00::1]:80", "[fd12:3456::1]:80", "[::ffff:10.1.2.3]:80", "[::ffff:192.168.0.1]:80",
		"100.64.0.1:80", "100.127.255.255:80",
		"224.0.0.1:80", "239.255.255.250:80", "[ff02::1]:80", "255.255.255.255:80",
		"[::127.0.0.1]:80", "[64:ff9b::7f00:1]:80", "[2002:7f00:1::]:80",
	}
	for _, a := range refused {
		t.Run("refused "+a, func(t *testing.T) {
			err := def.Check(netip.MustParseAddrPort(a))
			if !errors.Is(err, netguard.ErrRefused) {
				t.Fatalf("Check(%s) = %v, want a refusal", a, err)
			}
			if !strings.Contains(err.Error(), "--allowed-outbound") {
				t.Errorf("the refusal does not name --allowed-outbound: %v", err)
			}
		})
	}
	allowed := []string{"8.8.8.8:443", "1.1.1.1:80", "[2606:4700:4700::1111]:443", "[::ffff:8.8.8.8]:80",
		"172.32.0.1:80", "100.128.0.1:80", "192.169.0.1:80", "11.0.0.1:80"}
	for _, a := range allowed {
		t.Run("allowed "+a, func(t *testing.T) {
			if err := def.Check(netip.MustParseAddrPort(a)); err != nil {
				t.Fatalf("Check(%s) = %v, want nil", a, err)
			}
		})
	}
}

func TestAllowList(t *testing.T) {
	p := mustPolicy(t, "127.0.0.1/32", "10.0.0.0/8", "192.168.1.5", "[::1]:9000", "172.16.0.9:8080")
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true},
		{"[::ffff:127.0.0.1]:80", true}, // the mapped form of an allowed address is allowed
		{"127.0.0.2:80", false},
		{"10.9.8.7:1", true},
		{"192.168.1.5:22", true},
		{"192.168.1.6:22", false},
		{"[::1]:9000", true},
		{"[::1]:9001", false},
		{"172.16.0.9:8080", true},
		{"172.16.0.9:8081", false},
		{"169.254.169.254:80", false},
	}
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			err := p.Check(netip.MustParseAddrPort(c.addr))
			if (err == nil) != c.ok {
				t.Fatalf("Check(%s) = %v, want allowed=%v", c.addr, err, c.ok)
			}
		})
	}
}

func TestParseRefusesNames(t *testing.T) {
	for _, e := range []string{"example.com", "localhost:80", "10.0.0.0/33", "1.2.3.4:99999", "*"} {
		if _, err := netguard.Parse([]string{e}); err == nil {
			t.Errorf("Parse(%q) accepted it", e)
		}
	}
}

func TestCheckURL(t *testing.T) {
	def := mustPolicy(t)
	cases := []struct {
		url     string
		refused bool
	}{
		{"http://127.0.0.1:8080/hook", true},
		{"http://localhost/hook", true},
		{"http://api.localhost/hook", true},
		{"http://LocalHost./hook", true},
		{"http://[::1]/hook", true},
		{"http://[::ffff:127.0.0.1]/hook", true},
		{"http://0.0.0.0/hook", true},
		{"http://[::]/hook", true},
		{"http://169.254.169.254/latest/meta-data/", true},
		{"https://10.0.0.1/hook", true},
		{"https://8.8.8.8/hook", false},
		{"https://hooks.example.com/x", false}, // a name: checked when connecting
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			err := def.CheckURL(c.url)
			if (err != nil) != c.refused {
				t.Fatalf("CheckURL(%s) = %v, want refused=%v", c.url, err, c.refused)
			}
		})
	}
	if err := mustPolicy(t, "127.0.0.1/32").CheckURL("http://127.0.0.1:9/x"); err != nil {
		t.Errorf("an allowed literal address was refused: %v", err)
	}
}

// TestDialer connects for real: the hook must refuse the connection after resolution,
// whatever spelling of the address the resolver accepts.
func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	targets := []string{"127.0.0.1", "localhost", "0.0.0.0", "::", "::ffff:127.0.0.1",
		"2130706433", "0x7f000001", "0177.0.0.1", "127.1", "017700000001"}
	d := mustPolicy(t).Dialer(2 * time.Second)
	ctx := context.Background()
	for _, host := range targets {
		t.Run(host, func(t *testing.T) {
			c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, fmt.Sprint(port)))
			if err == nil {
				c.Close()
				t.Fatalf("dialing %s reached the loopback listener", host)
			}
			t.Logf("%s: %v", host, err)
			var dnsErr *net.DNSError
			if !errors.Is(err, netguard.ErrRefused) && !errors.As(err, &dnsErr) {
				t.Fatalf("dialing %s failed with %v, want a refusal (or a resolver that rejects the spelling)", host, err)
			}
		})
	}
	allowed := mustPolicy(t, "127.0.0.1/32").Dialer(2 * time.Second)
	c, err := allowed.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("an allowed destination was refused: %v", err)
	}
	c.Close()
}

// TestClientRedirect: a redirect from an allowed destination to a refused one is refused.
func TestClientRedirect(t *testing.T) {
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	}))
	defer inner.Close()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(inner.URL, "127.0.0.1", "localhost", 1), http.StatusFound)
	}))
	defer outer.Close()
	outerAddr := outer.Listener.Addr().String()
	client := mustPolicy(t, outerAddr).Client(5 * time.Second)
	resp, err := client.Get(outer.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("the redirect to %s was followed (status %d)", inner.URL, resp.StatusCode)
	}
	if !errors.Is(err, netguard.ErrRefused) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	resp, err = mustPolicy(t, "127.0.0.0/8").Client(5 * time.Second).Get(outer.URL)
	if err != nil {
		t.Fatalf("with loopback allowed: %v", err)
	}
	resp.Body.Close()
}
