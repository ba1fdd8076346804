#!/bin/sh
# Generates the TLS test fixtures in Fixtures/tls/ with the openssl CLI. Run once; the files are
# committed. Re-running replaces them all (then commit the new files together).
#
#   ca.crt / ca.key                 test CA the client trusts (sslrootcert=Fixtures/tls/ca.crt)
#   server.crt / server.key         server certificate for localhost, 127.0.0.1 and ::1, signed by ca
#   untrusted-ca.crt / .key         a second CA the client does not trust
#   untrusted-server.crt / .key     localhost/127.0.0.1 certificate signed by the untrusted CA
#   wrong-host.crt / .key           certificate for wrong.example.com only, signed by ca
#   cn-only.crt / .key              CN = localhost and no subjectAltName (host name checks fall back to the CN)
#   client.crt / client.key         client certificate, CN = tusk_cert (the role of the `cert` method)
#
# Valid for 100 years; RSA 2048 with SHA-256 signatures.
set -eu
cd "$(dirname "$0")/../Fixtures/tls"
DAYS=36500

ext() { # $1 = file, $2 = subjectAltName (or empty), $3 = extendedKeyUsage
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [ -n "$2" ] && echo "subjectAltName=$2"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
  } > "$1"
}

ca() { # $1 = name, $2 = CN
  openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days $DAYS \
    -subj "/O=Tusk tests/CN=$2" -keyout "$1.key" -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

leaf() { # $1 = name, $2 = CN, $3 = CA name, $4 = SAN, $5 = EKU
  openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/O=Tusk tests/CN=$2" -keyout "$1.key" -out "$1.csr"
  ext "$1.ext" "$4" "$5"
  openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -sha256 -days $DAYS \
    -extfile "$1.ext" -out "$1.crt"
  rm -f "$1.csr" "$1.ext"
}

ca ca "Tusk test CA"
ca untrusted-ca "Tusk untrusted CA"
leaf server localhost ca "DNS:localhost,IP:127.0.0.1,IP:::1" serverAuth
leaf untrusted-server localhost untrusted-ca "DNS:localhost,IP:127.0.0.1,IP:::1" serverAuth
leaf wrong-host wrong.example.com ca "DNS:wrong.example.com" serverAuth
leaf cn-only localhost ca "" serverAuth
leaf client tusk_cert ca "" clientAuth
rm -f ./*.srl
chmod 600 ./*.key
echo "generated in $(pwd)"
