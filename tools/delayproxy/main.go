// Command delayproxy is the benchmarks' stand-in for a network between a client and an S3 server:
// a TCP proxy on 127.0.0.1 that forwards every byte unchanged and holds each request for a fixed
// delay (20 ms by default) before passing it on.
//
// It does not parse HTTP. A request is what the client sends after the server last answered on
// that connection: the first bytes of a connection, and the first bytes after any response
// bytes, wait `-delay` once; the rest of a request body streams on at once. So a request on a
// kept-alive connection costs one delay, as one round trip to a remote S3 would, and a request
// that waits for `100 Continue` costs two, as it would there too. Nothing else is changed: the
// Host header and every signature reach the server as the client sent them.
//
// Usage: delayproxy -target 127.0.0.1:8333 [-listen 127.0.0.1:0] [-delay 20ms] [-port-file FILE]
// It prints "listening on ADDR" and, when stopped (SIGTERM, SIGINT), one line with its counts.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type counters struct {
	connections atomic.Int64
	delayed     atomic.Int64
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	target := flag.String("target", "", "the server's host:port")
	delay := flag.Duration("delay", 20*time.Millisecond, "how long each request is held")
	portFile := flag.String("port-file", "", "write the port listened on to this file (atomically)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("delayproxy: ")
	if *target == "" {
		log.Fatal("-target host:port is required")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatalf("-listen %q: %v", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("-listen %q: only a loopback address is allowed", *listen)
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	if *portFile != "" {
		if err := writeAtomically(*portFile, strconv.Itoa(port)+"\n"); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("listening on %s, forwarding to %s after %s per request\n", listener.Addr(), *target, *delay)

	var counts counters
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		fmt.Fprintf(os.Stderr, "delayproxy: %d connections, %d requests delayed\n",
			counts.connections.Load(), counts.delayed.Load())
		os.Exit(0)
	}()
	for {
		client, err := listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Print(err)
			continue
		}
		counts.connections.Add(1)
		go relay(client, *target, *delay, &counts)
	}
}

// relay copies both ways; a client read that follows a server write (a new request) waits `delay`.
func relay(client net.Conn, target string, delay time.Duration, counts *counters) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		log.Printf("dial %s: %v", target, err)
		return
	}
	defer server.Close()
	noDelay(client)
	noDelay(server)
	var answers atomic.Int64 // server->client writes so far on this connection
	var done sync.WaitGroup
	done.Add(2)
	go func() {
		defer done.Done()
		defer closeWrite(server)
		seen := int64(-1)
		buffer := make([]byte, 64*1024)
		for {
			n, err := client.Read(buffer)
			if n > 0 {
				if turn := answers.Load(); turn != seen {
					seen = turn
					counts.delayed.Add(1)
					time.Sleep(delay)
				}
				if _, werr := server.Write(buffer[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer done.Done()
		defer closeWrite(client)
		buffer := make([]byte, 64*1024)
		for {
			n, err := server.Read(buffer)
			if n > 0 {
				answers.Add(1)
				if _, werr := client.Write(buffer[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	done.Wait()
}

func noDelay(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
	}
}

// closeWrite passes an end of stream on (a half-close), so the other side sees it as it would directly.
func closeWrite(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.CloseWrite()
		return
	}
	_ = conn.Close()
}

func writeAtomically(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
