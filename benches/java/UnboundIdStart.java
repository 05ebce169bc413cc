// Start-up of UnboundID's InMemoryDirectoryServer, for comparison with oxldap's embedded
// start (issue 7). Run by scripts/bench-unboundid-start.sh, which fetches the SDK; not part
// of the test suite.
//
// Usage: java -cp SDK.jar:. UnboundIdStart LDIF|- RUNS
// Each run, in this one JVM: build the server for dc=localdomain,dc=test with the SDK's
// default schema (schema checking on), import LDIF (or nothing with "-"), start listening on
// an ephemeral port, connect over TCP and do one base search of the suffix: the same steps
// oxldap's `start_to_first_search` bench times. Prints one line per run with milliseconds,
// then the minimum and median of the runs after the first (the first includes class
// loading and an unwarmed JIT, which every fresh test JVM pays).
import com.unboundid.ldap.listener.InMemoryDirectoryServer;
import com.unboundid.ldap.listener.InMemoryDirectoryServerConfig;
import com.unboundid.ldap.listener.InMemoryListenerConfig;
import com.unboundid.ldap.sdk.LDAPConnection;
import com.unboundid.ldap.sdk.SearchResult;
import com.unboundid.ldap.sdk.SearchScope;
import java.net.InetAddress;
import java.util.Arrays;

public class UnboundIdStart {
    public static void main(String[] args) throws Exception {
        String ldif = args[0];
        int runs = Integer.parseInt(args[1]);
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            InMemoryDirectoryServerConfig cfg =
                    new InMemoryDirectoryServerConfig("dc=localdomain,dc=test");
            cfg.addAdditionalBindCredentials("cn=admin,dc=localdomain,dc=test", "secret");
            cfg.setListenerConfigs(InMemoryListenerConfig.createLDAPConfig(
                    "default", InetAddress.getByName("127.0.0.1"), 0, null));
            InMemoryDirectoryServer ds = new InMemoryDirectoryServer(cfg);
            int loaded;
            if (ldif.equals("-")) {
                // oxldap's empty start creates this layout of 4 entries; so does this one.
                ds.add("dn: dc=localdomain,dc=test", "objectClass: top",
                        "objectClass: organization", "objectClass: dcObject",
                        "o: localdomain.test", "dc: localdomain");
                ds.add("dn: o=localdomain,dc=localdomain,dc=test", "objectClass: top",
                        "objectClass: organization", "o: localdomain");
                ds.add("dn: ou=Groups,o=localdomain,dc=localdomain,dc=test",
                        "objectClass: top", "objectClass: organizationalUnit", "ou: Groups");
                ds.add("dn: ou=Users,o=localdomain,dc=localdomain,dc=test",
                        "objectClass: top", "objectClass: organizationalUnit", "ou: Users");
                loaded = 4;
            } else {
                loaded = ds.importFromLDIF(true, ldif);
            }
            ds.startListening();
            try {
                LDAPConnection c = new LDAPConnection("127.0.0.1", ds.getListenPort());
                SearchResult r =
                        c.search("dc=localdomain,dc=test", SearchScope.BASE, "(objectClass=*)");
                ms[i] = (System.nanoTime() - t0) / 1e6;
                if (r.getEntryCount() != 1) {
                    throw new IllegalStateException("base search returned " + r.getEntryCount());
                }
                c.close();
            } finally {
                ds.shutDown(true);
            }
            System.out.printf("run %d: %.2f ms (%d entries loaded)%n", i + 1, ms[i], loaded);
        }
        if (runs > 1) {
            double[] warm = Arrays.copyOfRange(ms, 1, runs);
            Arrays.sort(warm);
            System.out.printf("first %.2f ms; later runs: min %.2f ms, median %.2f ms%n",
                    ms[0], warm[0], warm[warm.length / 2]);
        }
    }
}
