// Command podwall-kubetest is the small helper next to the real kube-apiserver binary
// in podwall's test control plane (see ../README.md and scripts/test-control-plane).
//
//	podwall-kubetest etcd --data-dir DIR --client-port N --peer-port M
//	    runs a single-member etcd (go.etcd.io/etcd/server/v3/embed) on 127.0.0.1 only,
//	    until SIGTERM/SIGINT.
//	podwall-kubetest compact --endpoint URL [--revision N]
//	    compacts etcd's history up to revision N (default: the revision of a marker
//	    write made just now, i.e. all history up to now) and
//	    prints the revision it compacted at; like `etcdctl compact --physical`, but it
//	    also records the revision under "compact_rev_key" the way kube-apiserver's own
//	    compactor does, so the apiserver's watch cache learns about it.
//	podwall-kubetest revision --endpoint URL
//	    prints etcd's current revision.
//	podwall-kubetest freeports N
//	    prints N distinct free TCP ports on 127.0.0.1, one per line.
//	podwall-kubetest certs --dir DIR
//	    writes a throwaway CA (ca.crt), a serving certificate signed by it for
//	    127.0.0.1/localhost (apiserver.crt/.key) and a service-account signing key
//	    pair (sa.key, sa.pub).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "etcd":
		err = runEtcd(os.Args[2:])
	case "compact":
		err = runCompact(os.Args[2:])
	case "revision":
		err = runRevision(os.Args[2:])
	case "freeports":
		err = runFreePorts(os.Args[2:])
	case "certs":
		err = runCerts(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "podwall-kubetest %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: podwall-kubetest etcd|compact|revision|freeports|certs [flags]")
	os.Exit(2)
}

func loopbackURL(port int) url.URL {
	return url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
}

func runEtcd(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ExitOnError)
	dataDir := fs.String("data-dir", "", "etcd data directory (required)")
	clientPort := fs.Int("client-port", 2379, "client port on 127.0.0.1")
	peerPort := fs.Int("peer-port", 2380, "peer port on 127.0.0.1")
	logLevel := fs.String("log-level", "warn", "debug|info|warn|error")
	noFsync := fs.Bool("unsafe-no-fsync", true, "skip fsync (test data only; faster on a busy machine)")
	fs.Parse(args)
	if *dataDir == "" {
		return fmt.Errorf("--data-dir is required")
	}

	cfg := embed.NewConfig()
	cfg.Name = "podwall-test"
	cfg.Dir = *dataDir
	cu, pu := loopbackURL(*clientPort), loopbackURL(*peerPort)
	cfg.ListenClientUrls = []url.URL{cu}
	cfg.AdvertiseClientUrls = []url.URL{cu}
	cfg.ListenPeerUrls = []url.URL{pu}
	cfg.AdvertisePeerUrls = []url.URL{pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = *logLevel
	cfg.LogOutputs = []string{"stderr"}
	cfg.UnsafeNoFsync = *noFsync
	// No automatic compaction: tests decide when history goes away (`compact`), and
	// the kube-apiserver's own periodic compaction is tuned with --etcd-compaction-interval.
	cfg.AutoCompactionRetention = "0"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintf(os.Stderr, "podwall-kubetest etcd: ready on %s (data %s)\n", cu.String(), *dataDir)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		return fmt.Errorf("etcd did not become ready within 60s")
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "podwall-kubetest etcd: %v, stopping\n", s)
		return nil
	case err := <-e.Err():
		return err
	}
}

func client(endpoint string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
	})
}

func currentRevision(ctx context.Context, c *clientv3.Client) (int64, error) {
	// Any read returns the store's current revision in its header.
	resp, err := c.Get(ctx, "podwall-kubetest/revision-probe", clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

func runCompact(args []string) error {
	fs := flag.NewFlagSet("compact", flag.ExitOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:2379", "etcd client URL")
	rev := fs.Int64("revision", 0, "compact up to this revision (0: the current revision)")
	fs.Parse(args)
	c, err := client(*endpoint)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := *rev
	if r == 0 {
		// Compact at the revision of a write of our own, not at the revision of the
		// latest object change: a kube-apiserver watch resumed exactly at the
		// compaction revision would otherwise receive that change with its previous
		// version compacted away ("etcd event received with PrevKv=nil", an internal
		// error instead of a clean 410 Gone).
		put, err := c.Put(ctx, "podwall-kubetest/compact-marker", time.Now().UTC().Format(time.RFC3339Nano))
		if err != nil {
			return err
		}
		r = put.Header.Revision
	}
	if err := compactLikeAPIServer(ctx, c, r); err != nil {
		return err
	}
	fmt.Println(r)
	return nil
}

// compactRevKey is the etcd key through which kube-apiservers agree on compactions: the
// apiserver's own compactor (k8s.io/apiserver/pkg/storage/etcd3) writes the revision it
// compacts to there, and every apiserver watches that key to learn the compacted
// revision (it then drops cache snapshots older than that, so exact-RV lists get 410).
// A bare etcd compaction (etcdctl compact) would not be seen by the apiserver's cache,
// so this does the same dance: bump the key (compare-and-swap on its version), then compact.
const compactRevKey = "compact_rev_key"

func compactLikeAPIServer(ctx context.Context, c *clientv3.Client, rev int64) error {
	for attempt := 0; attempt < 10; attempt++ {
		get, err := c.Get(ctx, compactRevKey)
		if err != nil {
			return err
		}
		var version int64
		if len(get.Kvs) > 0 {
			version = get.Kvs[0].Version
		}
		txn, err := c.Txn(ctx).
			If(clientv3.Compare(clientv3.Version(compactRevKey), "=", version)).
			Then(clientv3.OpPut(compactRevKey, strconv.FormatInt(rev, 10))).
			Commit()
		if err != nil {
			return err
		}
		if !txn.Succeeded {
			continue // an apiserver compacted concurrently; read again
		}
		_, err = c.Compact(ctx, rev, clientv3.WithCompactPhysical())
		return err
	}
	return fmt.Errorf("could not update %s: too much contention", compactRevKey)
}

func runRevision(args []string) error {
	fs := flag.NewFlagSet("revision", flag.ExitOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:2379", "etcd client URL")
	fs.Parse(args)
	c, err := client(*endpoint)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := currentRevision(ctx, c)
	if err != nil {
		return err
	}
	fmt.Println(r)
	return nil
}

func runFreePorts(args []string) error {
	n := 1
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil || n < 1 {
			return fmt.Errorf("bad count %q", args[0])
		}
	}
	// Hold all listeners open until every port is known, so the ports are distinct.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func runCerts(args []string) error {
	fs := flag.NewFlagSet("certs", flag.ExitOnError)
	dir := fs.String("dir", "", "output directory (required)")
	fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("--dir is required")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	until := now.Add(10 * 365 * 24 * time.Hour)

	// CA
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "podwall-test-ca"},
		NotBefore:             now,
		NotAfter:              until,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	if err := writePEM(filepath.Join(*dir, "ca.crt"), "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}

	// serving certificate for the apiserver, loopback only
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now,
		NotAfter:     until,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(*dir, "apiserver.crt"), "CERTIFICATE", srvDER, 0o644); err != nil {
		return err
	}
	srvKeyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(*dir, "apiserver.key"), "PRIVATE KEY", srvKeyDER, 0o600); err != nil {
		return err
	}

	// service-account token signing key pair (RSA, RS256 is what every client expects)
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(*dir, "sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey), 0o600); err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	return writePEM(filepath.Join(*dir, "sa.pub"), "PUBLIC KEY", saPub, 0o644)
}
