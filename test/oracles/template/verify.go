package main

// What the differential test needs beyond rendering: ESO's functions whose Go form differs from
// Debian's sprig 3.2.3 (htpasswd's algorithm argument, ESO's PKCS#12 encoders), and oracle-only
// functions (prefixed "oracle") that inspect what an engine generated — random keys,
// certificates, password hashes and PFX files cannot be compared byte for byte, so Go parses,
// verifies and describes them, and the test compares the descriptions.
//
// Debian's go-pkcs12 predates the Modern encoder ESO uses: the oracle's pemToPkcs12 writes the
// legacy format (3DES and RC2, SHA-1 MAC). The test has each side decode what the other wrote.

import (
	"crypto"
	"crypto/dsa"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"software.sslmate.com/src/go-pkcs12"
)

func verifyFuncs() map[string]interface{} {
	return map[string]interface{}{
		"htpasswd":                  htpasswd,
		"pemToPkcs12":               func(c, k string) (string, error) { return pemToP12(c, k, "", false) },
		"pemToPkcs12Pass":           func(c, k, p string) (string, error) { return pemToP12(c, k, p, false) },
		"fullPemToPkcs12":           func(c, k string) (string, error) { return pemToP12(c, k, "", true) },
		"fullPemToPkcs12Pass":       func(c, k, p string) (string, error) { return pemToP12(c, k, p, true) },
		"pemTruststoreToPKCS12":     func(c string) (string, error) { return trustP12(c, "") },
		"pemTruststoreToPKCS12Pass": trustP12,
		"oracleCertInfo":            certInfo,
		"oracleVerify":              verifyCert,
		"oracleKeyInfo":             keyInfo,
		"oracleKeyMatches":          keyMatches,
		"oracleBcrypt":              func(hash, pw string) bool { return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil },
		"oraclePkcs12":              p12Info,
		"oraclePkcs12Trust":         p12TrustInfo,
	}
}

// htpasswd as ESO's vendored sprig (3.3) has it: "sha" or else bcrypt.
func htpasswd(username, password, hashAlgorithm string) string {
	if strings.Contains(username, ":") {
		return fmt.Sprintf("invalid username: %s", username)
	}
	if hashAlgorithm == "sha" {
		s := sha1.Sum([]byte(password))
		return fmt.Sprintf("%s:{SHA}%s", username, base64.StdEncoding.EncodeToString(s[:]))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Sprintf("%s:failed to encrypt string with bcrypt: %s", username, err)
	}
	return fmt.Sprintf("%s:%s", username, string(hash))
}

func parseKey(der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unable to parse private key type")
}

func pemToP12(cert, key, pass string, full bool) (string, error) {
	block, rest := pem.Decode([]byte(cert))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	var cas []*x509.Certificate
	for full && len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return "", err
		}
		cas = append(cas, c)
	}
	kb, _ := pem.Decode([]byte(key))
	k, err := parseKey(kb.Bytes)
	if err != nil {
		return "", err
	}
	pfx, err := pkcs12.Encode(rand.Reader, k, leaf, cas, pass)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

func trustP12(cert, pass string) (string, error) {
	var certs []*x509.Certificate
	rest := []byte(cert)
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return "", err
		}
		certs = append(certs, c)
	}
	pfx, err := pkcs12.EncodeTrustStore(rand.Reader, certs, pass)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

func toJSON(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func firstCert(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func pubInfo(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *dsa.PublicKey:
		return fmt.Sprintf("DSA-%d", k.P.BitLen())
	}
	return fmt.Sprintf("%T", pub)
}

// certInfo: the fields sprig's generators set, as Go reads them (no serial, no exact times).
func certInfo(s string) (string, error) {
	c, err := firstCert(s)
	if err != nil {
		return "", err
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	sort.Strings(ips)
	return toJSON(map[string]interface{}{
		"subject":     c.Subject.String(),
		"issuer":      c.Issuer.String(),
		"version":     c.Version,
		"isCA":        c.IsCA,
		"basic":       c.BasicConstraintsValid,
		"keyUsage":    c.KeyUsage,
		"extKeyUsage": c.ExtKeyUsage,
		"dns":         c.DNSNames,
		"ips":         ips,
		"days":        int(c.NotAfter.Sub(c.NotBefore).Hours()/24 + 0.5),
		"sigAlg":      c.SignatureAlgorithm.String(),
		"publicKey":   pubInfo(c.PublicKey),
		"hasSKI":      len(c.SubjectKeyId) > 0,
		"hasAKI":      len(c.AuthorityKeyId) > 0,
		"serialBits":  c.SerialNumber.BitLen() <= 128 && c.SerialNumber.Sign() > 0,
	}), nil
}

// verifyCert: the signature of the first certificate of `s` checks against `parent`.
func verifyCert(s, parent string) (string, error) {
	c, err := firstCert(s)
	if err != nil {
		return "", err
	}
	p, err := firstCert(parent)
	if err != nil {
		return "", err
	}
	if err := c.CheckSignatureFrom(p); err != nil {
		return "", err
	}
	if len(c.AuthorityKeyId) > 0 && string(c.AuthorityKeyId) != string(p.SubjectKeyId) {
		return "", errors.New("authority key id does not match")
	}
	return "ok", nil
}

type dsaKeyFormat struct {
	Version       int
	P, Q, G, Y, X *big.Int
}

// keyInfo: the PEM type and key as sprig's parsePrivateKeyPEM reads it.
func keyInfo(s string) (string, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return "", errors.New("no PEM")
	}
	var k interface{}
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "DSA PRIVATE KEY":
		var f dsaKeyFormat
		if _, err = asn1.Unmarshal(b.Bytes, &f); err == nil {
			dk := &dsa.PrivateKey{PublicKey: dsa.PublicKey{Parameters: dsa.Parameters{P: f.P, Q: f.Q, G: f.G}, Y: f.Y}, X: f.X}
			// y must be g^x mod p: the key is consistent.
			if new(big.Int).Exp(f.G, f.X, f.P).Cmp(f.Y) != 0 {
				return "", errors.New("inconsistent DSA key")
			}
			k = dk
		}
	default:
		return "", errors.New("unknown PEM type")
	}
	if err != nil {
		return "", err
	}
	var pub crypto.PublicKey
	switch key := k.(type) {
	case *dsa.PrivateKey:
		pub = &key.PublicKey
	case interface{ Public() crypto.PublicKey }:
		pub = key.Public()
	}
	return b.Type + " " + pubInfo(pub), nil
}

func keyMatches(keyPEM, certPEM string) (bool, error) {
	c, err := firstCert(certPEM)
	if err != nil {
		return false, err
	}
	b, _ := pem.Decode([]byte(keyPEM))
	if b == nil {
		return false, errors.New("no PEM")
	}
	k, err := parseKey(b.Bytes)
	if err != nil {
		return false, err
	}
	pub := k.(interface{ Public() crypto.PublicKey }).Public()
	return pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(c.PublicKey), nil
}

// p12Info: what go-pkcs12's DecodeChain finds in a base64 PFX.
func p12Info(b64, pass string) (string, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	k, leaf, cas, err := pkcs12.DecodeChain(der, pass)
	if err != nil {
		return "", err
	}
	var caNames []string
	for _, c := range cas {
		caNames = append(caNames, c.Subject.String())
	}
	pub := k.(interface{ Public() crypto.PublicKey }).Public()
	return toJSON(map[string]interface{}{
		"key":      pubInfo(pub),
		"leaf":     leaf.Subject.String(),
		"cas":      caNames,
		"keyMatch": pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey),
	}), nil
}

func p12TrustInfo(b64, pass string) (string, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	certs, err := pkcs12.DecodeTrustStore(der, pass)
	if err != nil {
		return "", err
	}
	var names []string
	for _, c := range certs {
		names = append(names, c.Subject.String())
	}
	return toJSON(names), nil
}
