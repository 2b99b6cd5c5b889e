package kubetest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// ExposeToPods forwards TCP connections to GatewayIP:PORT to addr (a
// server on this machine, typically on 127.0.0.1, which pods cannot
// reach) until Stop, and returns GatewayIP:PORT. The forwarder runs in
// the test process.
func (c *Cluster) ExposeToPods(addr string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(c.GatewayIP.String(), "0"))
	if err != nil {
		return "", fmt.Errorf("kubetest: expose %s: %w", addr, err)
	}
	f := &forwarder{ln: ln, to: addr, conns: map[net.Conn]bool{}}
	c.fwdMu.Lock()
	c.forwarders = append(c.forwarders, f)
	c.fwdMu.Unlock()
	go f.serve()
	return ln.Addr().String(), nil
}

type forwarder struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func (f *forwarder) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false // closed
	}
	if add {
		f.conns[c] = true
	} else {
		delete(f.conns, c)
	}
	return true
}

func (f *forwarder) serve() {
	for {
		in, err := f.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer in.Close()
			out, err := net.Dial("tcp", f.to)
			if err != nil {
				return
			}
			defer out.Close()
			if !f.track(in, true) || !f.track(out, true) {
				return
			}
			defer f.track(in, false)
			defer f.track(out, false)
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(out, in)
			go pipe(in, out)
			<-done
			<-done
		}()
	}
}

// close stops accepting, cuts the connections in flight and waits for
// their goroutines.
func (f *forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
