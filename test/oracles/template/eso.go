package main

// The functions ESO adds to sprig, written here from ESO's documented behaviour (its templating
// guide and function reference) with Go's standard library and Debian-packaged libraries:
// sigs.k8s.io/yaml for toYaml/fromYaml, software.sslmate.com/src/go-pkcs12 for the PKCS#12
// decoders, gopkg.in/square/go-jose.v2 to read JWKs. Encoders whose output is random (PKCS#12
// salts) are not here: the tests check their output's shape instead.

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"

	"gopkg.in/square/go-jose.v2"
	"sigs.k8s.io/yaml"
	"software.sslmate.com/src/go-pkcs12"
)

func esoFuncs() map[string]interface{} {
	return map[string]interface{}{
		"toYaml":          toYaml,
		"fromYaml":        fromYaml,
		"sha512sum":       func(s string) string { h := sha512.Sum512([]byte(s)); return hex.EncodeToString(h[:]) },
		"filterPEM":       filterPEM,
		"filterCertChain": filterCertChain,
		"certSANs":        certSANs,
		"pkcs12key":       func(in string) (string, error) { return p12key("", in) },
		"pkcs12keyPass":   p12key,
		"pkcs12cert":      func(in string) (string, error) { return p12cert("", in) },
		"pkcs12certPass":  p12cert,
		"jwkPublicKeyPem": jwkPublic,
		"jwkPrivateKeyPem": jwkPrivate,
		"rsaDecrypt":      rsaDecrypt,
	}
}

// toYaml: YAML of the value with the trailing newline removed; "" when it cannot be encoded.
func toYaml(v interface{}) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// fromYaml: a map; a document that is not one puts the parser's message under "Error".
func fromYaml(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func pemBlock(b *pem.Block) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes}))
}

// filterPEM: the blocks of one type (case-insensitive), re-encoded; text before the first
// BEGIN is ignored; input with no block of that type but something left over is an error.
func filterPEM(kind, input string) (string, error) {
	if i := strings.Index(input, "-----BEGIN"); i >= 0 {
		input = input[i:]
	}
	rest := []byte(input)
	var out strings.Builder
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if strings.EqualFold(b.Type, kind) {
			out.WriteString(pemBlock(&pem.Block{Type: b.Type, Bytes: b.Bytes, Headers: b.Headers}))
		}
	}
	if out.Len() == 0 && len(rest) != 0 {
		return "", errors.New("error filtering pem: found junk")
	}
	return out.String(), nil
}

// chain orders certificates leaf -> ... -> root by AuthorityKeyId/SubjectKeyId.
func chain(input string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(input)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	parent := make([]int, len(certs))
	isParent := make([]bool, len(certs))
	for i := range certs {
		parent[i] = -1
		for j := range certs {
			if i != j && bytes.Equal(certs[i].AuthorityKeyId, certs[j].SubjectKeyId) {
				parent[i] = j
				isParent[j] = true
				break
			}
		}
	}
	leaf := -1
	for i := range certs {
		if !isParent[i] {
			if leaf >= 0 {
				return nil, errors.New("found multiple leaf or disjunct certificates")
			}
			leaf = i
		}
	}
	if leaf < 0 {
		return nil, errors.New("no leaf certificate found")
	}
	var ordered []*x509.Certificate
	for n := leaf; n >= 0; n = parent[n] {
		if len(ordered) >= len(certs) {
			return nil, errors.New("constructing chain resulted in cycle")
		}
		ordered = append(ordered, certs[n])
	}
	return ordered, nil
}

func isRoot(c *x509.Certificate) bool {
	return c.AuthorityKeyId == nil || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// filterCertChain: "leaf", "intermediate" or "root" of the ordered chain, else "".
func filterCertChain(kind, input string) (string, error) {
	ordered, err := chain(input)
	if err != nil {
		return "", err
	}
	switch kind {
	case "leaf":
		c := ordered[0]
		if c.AuthorityKeyId != nil && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
			return certPEM(c), nil
		}
	case "intermediate":
		var out strings.Builder
		if len(ordered) < 2 {
			return "", nil
		}
		for _, c := range ordered[1:] {
			if isRoot(c) {
				break
			}
			out.WriteString(certPEM(c))
		}
		return out.String(), nil
	case "root":
		c := ordered[len(ordered)-1]
		if isRoot(c) {
			return certPEM(c), nil
		}
	}
	return "", nil
}

// certSANs: DNS names, IP addresses, e-mail addresses and URIs of the first certificate.
func certSANs(input string) ([]string, error) {
	if i := strings.Index(input, "-----BEGIN"); i >= 0 {
		input = input[i:]
	}
	b, _ := pem.Decode([]byte(input))
	if b == nil {
		return nil, errors.New("failed to decode PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("failed to parse certificate: %w", err)
	}
	out := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	out = append(out, c.EmailAddresses...)
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return out, nil
}

func p12key(pass, input string) (string, error) {
	key, _, _, err := pkcs12.DecodeChain([]byte(input), pass)
	if err != nil {
		return "", fmt.Errorf("unable to decode pkcs12 with password: %s", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

func p12cert(pass, input string) (string, error) {
	_, cert, cas, err := pkcs12.DecodeChain([]byte(input), pass)
	if err != nil {
		return "", fmt.Errorf("unable to decode pkcs12 certificate with password: %s", err)
	}
	all := certPEM(cert)
	for _, c := range cas {
		all += certPEM(c)
	}
	ordered, err := chain(all)
	if err != nil {
		return all, nil
	}
	var out strings.Builder
	for _, c := range ordered {
		out.WriteString(certPEM(c))
	}
	return out.String(), nil
}

func jwkPublic(s string) (string, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(s)); err != nil {
		return "", err
	}
	pub := k.Public()
	der, err := x509.MarshalPKIXPublicKey(pub.Key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

func jwkPrivate(s string) (string, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(s)); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

func rsaDecrypt(scheme, hashName, in, key string) (string, error) {
	switch scheme {
	case "None":
		return in, nil
	case "RSA-OAEP":
	default:
		return "", fmt.Errorf("decryption scheme %v is not supported", scheme)
	}
	b, _ := pem.Decode([]byte(key))
	if b == nil {
		return "", errors.New("failed to decode PEM block")
	}
	var parsed interface{}
	var err error
	if parsed, err = x509.ParsePKCS1PrivateKey(b.Bytes); err != nil {
		if parsed, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
			if parsed, err = x509.ParseECPrivateKey(b.Bytes); err != nil {
				return "", errors.New("could not parse private key")
			}
		}
	}
	rk, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return "", errors.New("could not parse RSA private key")
	}
	var h hash.Hash
	switch hashName {
	case "SHA1":
		h = sha1.New()
	case "SHA512":
		h = sha512.New()
	default:
		h = sha256.New()
	}
	out, err := rsa.DecryptOAEP(h, nil, rk, []byte(in), nil)
	if err != nil {
		return "", fmt.Errorf("error decrypting data with RSA: %v", err)
	}
	return string(out), nil
}
