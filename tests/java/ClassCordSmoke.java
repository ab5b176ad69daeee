// ClassCordSmoke: a JDK-only (Java 17, no external jars) smoke test that talks to a ClassCord
// server the way the real student Java clients do (see docs/PROTOCOL.md).
//
// Usage:  javac -Xlint:all -d classes ClassCordSmoke.java
//         java -cp classes ClassCordSmoke HOST PORT
//
// Each of the two connections is modelled on the real client families:
//  - Windows clients: writes go through
//      new PrintWriter(new OutputStreamWriter(socket.getOutputStream(), "windows-1252"), true)
//    and println(), so non-ASCII text is sent as windows-1252 bytes (e.g. e-acute = byte 0xE9).
//    Windows clients end lines with CRLF. System.lineSeparator() is fixed at JVM start, so instead
//    of relying on it we use a PrintWriter SUBCLASS (CrlfPrintWriter) whose println() writes "\r\n"
//    and then flushes; println(String) in JDK 17 is print(x) + println(), and we also override it
//    explicitly so the CRLF does not depend on that JDK implementation detail.
//  - reads: new BufferedReader(new InputStreamReader(in, UTF_8)) and readLine().
//  - sync-readers: right after sending register/login, exactly ONE synchronous readLine() must be
//    the reply. Only after login does a receive thread start, feeding lines into a BlockingQueue.
//  - two-readers (issue 14): the login screen reads the reply with its own BufferedReader, and the
//    chat window then opens a NEW BufferedReader on the socket: whatever the first one had already
//    buffered is lost. openChatWindowReader() does exactly that; steps i and j log in this way.
//  - strict-getters (org.json getString): every received line must be a JSON object, pure ASCII,
//    and from/content/user/state must be strings where present. A tiny hand-written JSON parser
//    (class Json) checks this; it is strict (rejects trailing garbage, duplicate keys like org.json,
//    and lone surrogate escapes, which only a broken encoder would produce).
//
// Outgoing JSON is built like org.json's JSONObject.toString(): non-ASCII BMP characters are written
// raw (so they go out as windows-1252 bytes), quotes/backslashes/control characters are escaped.
// A character that windows-1252 cannot encode (the astral U+1F389 party popper) would be silently replaced by '?'
// by the writer, so the builder escapes astral characters as a \\uD83C\\uDF89 surrogate-pair escape
// (ASCII on the wire); send() refuses any line the writer could not encode faithfully.
//
// On success prints "java smoke: N passed, 0 failed" and exits 0; otherwise prints what failed,
// "java smoke: N passed, M failed" and exits 1.

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.Charset;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;

public class ClassCordSmoke {

    static final long WAIT_MS = 5000;
    static final int CONNECT_TIMEOUT_MS = 5000;

    static int passed = 0;
    static final List<String> failures = Collections.synchronizedList(new ArrayList<>());

    // ------------------------------------------------------------------ checks

    /** Thrown to abort the scenario at the first failed step (later steps depend on it). */
    static final class StepFailed extends Exception {
        private static final long serialVersionUID = 1L;

        StepFailed(String msg) {
            super(msg);
        }
    }

    static void check(boolean ok, String what) throws StepFailed {
        check(ok, what, null);
    }

    /** Like check(ok, what), adding "(got ...)" to the report only when the check fails. */
    static void check(boolean ok, String what, String got) throws StepFailed {
        if (!ok && got != null) {
            what = what + " (got " + got + ")";
        }
        if (ok) {
            passed++;
            System.out.println("ok   - " + what);
        } else {
            failures.add(what);
            System.out.println("FAIL - " + what);
            throw new StepFailed(what);
        }
    }

    /** Record a failure found by a background thread (line validation); does not abort. */
    static void backgroundFailure(String what) {
        failures.add(what);
        System.out.println("FAIL - " + what);
    }

    // ------------------------------------------------------------------ writer

    /** PrintWriter whose println() always ends the line with CRLF (Windows clients) and flushes. */
    static final class CrlfPrintWriter extends PrintWriter {
        CrlfPrintWriter(Writer out) {
            super(out, true);
        }

        @Override
        public void println() {
            synchronized (lock) {
                write("\r\n");
                flush();
            }
        }

        @Override
        public void println(String x) {
            synchronized (lock) {
                print(x);
                println();
            }
        }
    }

    // ------------------------------------------------------------------ a received line

    static final class Received {
        final String raw; // null = end of stream marker
        final Map<String, Object> obj;

        Received(String raw, Map<String, Object> obj) {
            this.raw = raw;
            this.obj = obj;
        }

        String str(String key) {
            Object v = obj == null ? null : obj.get(key);
            return v instanceof String ? (String) v : null;
        }

        boolean isType(String t) {
            return t.equals(str("type"));
        }
    }

    static final Received EOF = new Received(null, null);

    // ------------------------------------------------------------------ one client connection

    static final class Client {
        final String label;
        final Socket socket;
        final PrintWriter out;
        BufferedReader in;
        final BlockingQueue<Received> queue = new LinkedBlockingQueue<>();
        final CharsetEncoder encoder = Charset.forName("windows-1252").newEncoder();
        volatile boolean closing = false;
        Thread receiver;

        Client(String label, String host, int port) throws IOException {
            this.label = label;
            socket = new Socket();
            socket.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
            // Exactly what the Windows clients do (their platform charset is windows-1252),
            // with CRLF line ends made explicit (see CrlfPrintWriter).
            out = new CrlfPrintWriter(new OutputStreamWriter(socket.getOutputStream(), "windows-1252"));
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        }

        void send(String line) throws StepFailed {
            if (!encoder.canEncode(line)) {
                check(false, label + ": test bug, line not encodable in windows-1252: " + line);
            }
            System.out.println("     " + label + " >> " + line);
            out.println(line);
            if (out.checkError()) {
                check(false, label + ": write failed (connection closed?) sending " + line);
            }
        }

        /** One synchronous readLine() (sync-readers), with a timeout; validated like every line. */
        Received syncRead(String what) throws StepFailed {
            String line;
            try {
                socket.setSoTimeout((int) WAIT_MS);
                line = in.readLine();
                socket.setSoTimeout(0);
            } catch (IOException e) {
                check(false, label + ": " + what + ": no reply line within " + WAIT_MS + " ms (" + e + ")");
                return null;
            }
            if (line == null) {
                check(false, label + ": " + what + ": connection closed by the server before a reply");
            }
            System.out.println("     " + label + " << " + line);
            Received r = validate(label, line);
            if (r == null) {
                check(false, label + ": " + what + ": reply line is not a valid JSON object: " + line);
            }
            return r;
        }

        /**
         * The chat window's own reader, as the student clients open it once the login reply is
         * handled: the login screen's reader is dropped with anything it had buffered.
         */
        void openChatWindowReader() throws IOException {
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        }

        void startReceiver() {
            receiver = new Thread(() -> {
                try {
                    String line;
                    while ((line = in.readLine()) != null) {
                        System.out.println("     " + label + " << " + line);
                        Received r = validate(label, line);
                        queue.add(r != null ? r : new Received(line, null));
                    }
                } catch (IOException e) {
                    if (!closing) {
                        System.out.println("     " + label + " receive thread: " + e);
                    }
                }
                queue.add(EOF);
            }, "recv-" + label);
            receiver.setDaemon(true);
            receiver.start();
        }

        /** Wait for the first line matching p, skipping (but having validated) any other line. */
        Received await(String what, Predicate<Received> p) throws StepFailed {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
            while (true) {
                long left = deadline - System.nanoTime();
                Received r = null;
                if (left > 0) {
                    try {
                        r = queue.poll(left, TimeUnit.NANOSECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                if (r == null) {
                    check(false, label + ": timed out after " + WAIT_MS + " ms waiting for " + what);
                }
                if (r == EOF) {
                    queue.add(EOF);
                    check(false, label + ": connection closed by the server while waiting for " + what);
                }
                if (r.obj != null && p.test(r)) {
                    return r;
                }
            }
        }

        /** Everything received so far (non-blocking). */
        List<Received> drain() {
            List<Received> all = new ArrayList<>();
            queue.drainTo(all);
            if (all.contains(EOF)) {
                queue.add(EOF);
            }
            return all;
        }

        void close() {
            closing = true;
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    // ------------------------------------------------------------------ line validation

    static final Set<String> STRING_FIELDS = Set.of("from", "content", "user", "state");

    /**
     * Validate one received line like the strictest real clients would; returns the parsed line,
     * or null if it is not a JSON object (failures are recorded either way).
     */
    static Received validate(String who, String line) {
        if (line.isEmpty()) {
            backgroundFailure(who + ": received an EMPTY line (kills last-line clients)");
            return null;
        }
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c > 0x7F) {
                backgroundFailure(String.format("%s: non-ASCII char U+%04X at index %d in line: %s",
                        who, (int) c, i, line));
                break;
            }
        }
        Map<String, Object> obj;
        try {
            obj = Json.parseObject(line);
        } catch (IllegalArgumentException e) {
            backgroundFailure(who + ": line is not a JSON object (" + e.getMessage() + "): " + line);
            return null;
        }
        for (String k : STRING_FIELDS) {
            if (obj.containsKey(k) && !(obj.get(k) instanceof String)) {
                backgroundFailure(who + ": field '" + k + "' is not a string: " + line);
            }
        }
        Object type = obj.get("type");
        if (!(type instanceof String)) {
            backgroundFailure(who + ": line has no string 'type': " + line);
        } else if (type.equals("message")) {
            if (!(obj.get("from") instanceof String) || !(obj.get("content") instanceof String)) {
                backgroundFailure(who + ": message line without string from/content: " + line);
            }
        } else if (type.equals("status")) {
            if (!(obj.get("user") instanceof String) || !(obj.get("state") instanceof String)) {
                backgroundFailure(who + ": status line without string user/state: " + line);
            }
        } else if (type.equals("error")) {
            if (!(obj.get("message") instanceof String) || !(obj.get("error") instanceof String)) {
                backgroundFailure(who + ": error line without both string message and error: " + line);
            }
        }
        return new Received(line, obj);
    }

    // ------------------------------------------------------------------ JSON output (org.json-like)

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20 || Character.isSurrogate(c)) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c); // raw: goes out as a windows-1252 byte
                    }
            }
        }
        return b.append('"').toString();
    }

    /** {"k1":"v1","k2":"v2",...} from alternating key/value strings, in order. */
    static String obj(String... kv) {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < kv.length; i += 2) {
            if (i > 0) {
                b.append(',');
            }
            b.append(quote(kv[i])).append(':').append(quote(kv[i + 1]));
        }
        return b.append('}').toString();
    }

    // ------------------------------------------------------------------ tiny JSON parser

    static final class Json {
        /** Distinguishes a JSON null from an absent key. */
        static final Object NULL = new Object() {
            @Override
            public String toString() {
                return "null";
            }
        };

        private final String s;
        private int i = 0;

        private Json(String s) {
            this.s = s;
        }

        @SuppressWarnings("unchecked")
        static Map<String, Object> parseObject(String text) {
            Json p = new Json(text);
            p.ws();
            if (p.peek() != '{') {
                throw p.err("expected '{'");
            }
            Object v = p.value();
            p.ws();
            if (p.i != p.s.length()) {
                throw p.err("trailing characters after the object");
            }
            return (Map<String, Object>) v;
        }

        private IllegalArgumentException err(String msg) {
            return new IllegalArgumentException(msg + " at index " + i);
        }

        private char peek() {
            if (i >= s.length()) {
                throw err("unexpected end of input");
            }
            return s.charAt(i);
        }

        private void ws() {
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                    i++;
                } else {
                    break;
                }
            }
        }

        private void expect(char c) {
            if (peek() != c) {
                throw err("expected '" + c + "'");
            }
            i++;
        }

        private Object value() {
            ws();
            char c = peek();
            switch (c) {
                case '{': return object();
                case '[': return array();
                case '"': return string();
                case 't': return literal("true", Boolean.TRUE);
                case 'f': return literal("false", Boolean.FALSE);
                case 'n': return literal("null", NULL);
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        return number();
                    }
                    throw err("unexpected character '" + c + "'");
            }
        }

        private Object literal(String word, Object v) {
            if (!s.startsWith(word, i)) {
                throw err("bad literal");
            }
            i += word.length();
            return v;
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            expect('{');
            ws();
            if (peek() == '}') {
                i++;
                return m;
            }
            while (true) {
                ws();
                if (peek() != '"') {
                    throw err("expected a string key");
                }
                String k = string();
                ws();
                expect(':');
                Object v = value();
                if (m.containsKey(k)) {
                    throw err("duplicate key \"" + k + "\""); // org.json rejects these too
                }
                m.put(k, v);
                ws();
                char c = peek();
                i++;
                if (c == '}') {
                    return m;
                }
                if (c != ',') {
                    throw err("expected ',' or '}'");
                }
            }
        }

        private List<Object> array() {
            List<Object> a = new ArrayList<>();
            expect('[');
            ws();
            if (peek() == ']') {
                i++;
                return a;
            }
            while (true) {
                a.add(value());
                ws();
                char c = peek();
                i++;
                if (c == ']') {
                    return a;
                }
                if (c != ',') {
                    throw err("expected ',' or ']'");
                }
            }
        }

        private int hex4() {
            if (i + 4 > s.length()) {
                throw err("truncated \\u escape");
            }
            int v = 0;
            for (int k = 0; k < 4; k++) {
                int d = Character.digit(s.charAt(i + k), 16);
                if (d < 0) {
                    throw err("bad hex digit in \\u escape");
                }
                v = v * 16 + d;
            }
            i += 4;
            return v;
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = peek();
                i++;
                if (c == '"') {
                    return b.toString();
                }
                if (c < 0x20) {
                    throw err("unescaped control character in string");
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = peek();
                i++;
                switch (e) {
                    case '"': b.append('"'); break;
                    case '\\': b.append('\\'); break;
                    case '/': b.append('/'); break;
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'n': b.append('\n'); break;
                    case 'r': b.append('\r'); break;
                    case 't': b.append('\t'); break;
                    case 'u': {
                        char u = (char) hex4();
                        if (Character.isHighSurrogate(u)) {
                            if (!s.startsWith("\\u", i)) {
                                throw err("high surrogate escape not followed by a low surrogate escape");
                            }
                            i += 2;
                            char lo = (char) hex4();
                            if (!Character.isLowSurrogate(lo)) {
                                throw err("high surrogate escape followed by a non-low-surrogate");
                            }
                            b.append(u).append(lo);
                        } else if (Character.isLowSurrogate(u)) {
                            throw err("lone low surrogate escape");
                        } else {
                            b.append(u);
                        }
                        break;
                    }
                    default:
                        throw err("bad escape \\" + e);
                }
            }
        }

        private Object number() {
            int start = i;
            if (s.charAt(i) == '-') {
                i++;
            }
            if (i < s.length() && s.charAt(i) == '0') {
                i++;
            } else {
                digits();
            }
            boolean integral = true;
            if (i < s.length() && s.charAt(i) == '.') {
                integral = false;
                i++;
                digits();
            }
            if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
                integral = false;
                i++;
                if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                    i++;
                }
                digits();
            }
            String t = s.substring(start, i);
            if (integral) {
                try {
                    return Long.parseLong(t);
                } catch (NumberFormatException tooBig) {
                    return Double.parseDouble(t);
                }
            }
            return Double.parseDouble(t);
        }

        private void digits() {
            int start = i;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
                i++;
            }
            if (i == start) {
                throw err("expected a digit");
            }
        }
    }

    // ------------------------------------------------------------------ scenario

    static final Pattern TIMESTAMP = Pattern.compile("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}");

    static void checkRelayedExtras(Received r, String who) throws StepFailed {
        Object ts = r.obj.get("timestamp");
        check(ts instanceof String && TIMESTAMP.matcher((String) ts).matches(),
                who + ": relayed message has timestamp YYYY-MM-DDTHH:MM:SS.ffffff", String.valueOf(ts));
        Object id = r.obj.get("id");
        check(id instanceof Long, who + ": relayed message has a numeric integer id", String.valueOf(id));
    }

    static void scenario(String host, int port) throws Exception {
        String n = Long.toString(System.currentTimeMillis());
        String alice = "alice_" + n;
        String bob = "bob_" + n;
        String alicePw = "m\u00f6tdepasse"; // "motdepasse" with o-umlaut: goes out as windows-1252 byte 0xF6
        String bobPw = "bobpasse_" + n;

        // a. register alice, then a duplicate register
        Client a = new Client("A", host, port);
        Client b = null;
        Client g = null;
        try {
            a.send(obj("type", "register", "username", alice, "password", alicePw));
            Received r = a.syncRead("register " + alice);
            check(r.raw.equals("{\"type\":\"register\",\"status\":\"ok\"}") || (r.isType("register")
                            && "ok".equals(r.str("status")) && r.obj.size() == 2),
                    "a. register " + alice + " -> {\"type\":\"register\",\"status\":\"ok\"}", r.raw);

            a.send(obj("type", "register", "username", alice, "password", alicePw));
            r = a.syncRead("duplicate register");
            check(r.isType("error"), "a. duplicate register -> type error", r.raw);
            String m = r.str("message");
            String e = r.str("error");
            check(m != null && m.contains("already exists") && e != null && e.contains("already exists"),
                    "a. duplicate register error has 'already exists' in message AND error", r.raw);

            // b. A logs in; B registers and logs in
            a.send(obj("type", "login", "username", alice, "password", alicePw));
            r = a.syncRead("login " + alice);
            check(r.isType("login") && "ok".equals(r.str("status")) && alice.equals(r.str("username")),
                    "b. login " + alice + " -> type login, status ok, username", r.raw);
            a.startReceiver();

            b = new Client("B", host, port);
            b.send(obj("type", "register", "username", bob, "password", bobPw));
            r = b.syncRead("register " + bob);
            check(r.isType("register") && "ok".equals(r.str("status")),
                    "b. register " + bob + " -> register ok", r.raw);
            b.send(obj("type", "login", "username", bob, "password", bobPw));
            r = b.syncRead("login " + bob);
            check(r.isType("login") && "ok".equals(r.str("status")) && bob.equals(r.str("username")),
                    "b. login " + bob + " -> type login, status ok, username", r.raw);
            b.startReceiver();

            // c. global message with windows-1252 bytes; B receives it, no echo to A
            String text = "Salut Bob, \u00e7a va ? \u00e9 \u00e0 \u00e7 \u20ac"; // ... ca va ? e a c EUR
            a.send(obj("type", "message", "subtype", "global", "to", "global", "from", alice, "content", text));
            r = b.await("global message from " + alice,
                    x -> x.isType("message") && alice.equals(x.str("from")));
            check(text.equals(r.str("content")),
                    "c. B got the global message with exact content", r.raw);
            check("global".equals(r.str("subtype")), "c. global message has subtype global", r.raw);
            checkRelayedExtras(r, "c");
            Thread.sleep(500);
            boolean echoed = false;
            for (Received x : a.drain()) {
                if (x.obj != null && x.isType("message") && alice.equals(x.str("from"))) {
                    echoed = true;
                    System.out.println("     echo seen by A: " + x.raw);
                }
            }
            check(!echoed, "c. no echo: A did not receive its own global message");

            // d. private message with an astral character
            String secret = "secret \ud83c\udf89"; // U+1F389, an astral char
            b.send(obj("type", "message", "subtype", "private", "to", alice, "content", secret));
            r = a.await("private message from " + bob,
                    x -> x.isType("message") && bob.equals(x.str("from")));
            check("private".equals(r.str("subtype")), "d. private message has subtype private", r.raw);
            check(alice.equals(r.str("to")), "d. private message has to = " + alice, r.raw);
            check(secret.equals(r.str("content")), "d. private message content exact", r.raw);
            check(r.raw.toLowerCase().contains("\\ud83c\\udf89"),
                    "d. astral char arrives as a surrogate-pair escape \\ud83c\\udf89", r.raw);
            checkRelayedExtras(r, "d");

            // e. users list
            a.send(obj("type", "users"));
            r = a.await("users reply", x -> x.isType("users"));
            Object users = r.obj.get("users");
            check(users instanceof List, "e. users reply has a 'users' array", r.raw);
            List<?> ul = (List<?>) users;
            boolean allStrings = true;
            for (Object u : ul) {
                allStrings &= u instanceof String;
            }
            check(allStrings, "e. users array contains only strings", r.raw);
            check(ul.contains(alice) && ul.contains(bob),
                    "e. users array contains " + alice + " and " + bob, r.raw);
            check(new HashSet<Object>(ul).size() == ul.size(), "e. users array has no duplicates", r.raw);

            // f. ping
            a.send(obj("type", "ping"));
            r = a.await("pong", x -> x.isType("pong"));
            check(r.raw.equals("{\"type\":\"pong\"}") || r.obj.size() == 1, "f. ping -> {\"type\":\"pong\"}", r.raw);

            // h. regression (issue 6): a guest whose window asks for the user list at once, then
            //    chats with its own "from", must be shown under that name, never as "invit\u00e9"
            String pseudo = "Invit\u00e9" + (n.length() > 4 ? n.substring(n.length() - 4) : n);
            g = new Client("G", host, port);
            g.startReceiver();
            g.send(obj("type", "users"));
            r = g.await("users reply to an anonymous guest", x -> x.isType("users"));
            check(!r.raw.contains("invit"), "h. users reply to a new guest does not name it", r.raw);
            for (int i = 1; i <= 2; i++) {
                String said = "bonjour " + i;
                g.send(obj("type", "message", "subtype", "global", "from", pseudo, "content", said));
                r = a.await("guest message " + i, x -> x.isType("message") && said.equals(x.str("content")));
                check(pseudo.equals(r.str("from")), "h. guest message " + i + " is from " + pseudo, r.raw);
            }
            a.send(obj("type", "users"));
            r = a.await("users reply with the guest", x -> x.isType("users"));
            check(r.obj.get("users") instanceof List && ((List<?>) r.obj.get("users")).contains(pseudo)
                    && !((List<?>) r.obj.get("users")).contains("invit\u00e9"),
                    "h. users list shows " + pseudo + " and no invit\u00e9", r.raw);

            // g. B disconnects; A sees bob offline
            b.close();
            r = a.await("status offline for " + bob,
                    x -> x.isType("status") && bob.equals(x.str("user")) && "offline".equals(x.str("state")));
            check(true, "g. A received {\"type\":\"status\",\"user\":\"" + bob + "\",\"state\":\"offline\"}");

            // i. regression (issue 14): a message kept for an offline account, read by a client
            //    whose chat window opens its own reader after the login screen read the reply
            //    (slowly, like a busy Swing thread): it must see the message and the welcome.
            String kept = "tu as vu le sujet ?";
            a.send(obj("type", "message", "subtype", "private", "to", bob, "content", kept));
            a.await("deferred notice", x -> x.isType("message") && "Serveur".equals(x.str("from")));
            b = new Client("B2", host, port);
            b.send(obj("type", "login", "username", bob, "password", bobPw));
            Thread.sleep(200);
            r = b.syncRead("login " + bob + " (login screen)");
            check(r.isType("login") && "ok".equals(r.str("status")), "i. login reply read by the login screen", r.raw);
            b.openChatWindowReader();
            b.startReceiver();
            r = b.await("the kept private message", x -> x.isType("message") && kept.equals(x.str("content")));
            check(Boolean.TRUE.equals(r.obj.get("deferred")) && alice.equals(r.str("from")),
                    "i. the chat window shows the kept message, marked deferred, from " + alice, r.raw);
            r = b.await("the welcome", x -> x.isType("message") && "Serveur".equals(x.str("from")));
            check(r.str("content") != null && r.str("content").startsWith("Bienvenue"),
                    "i. then the welcome notice", r.raw);
            b.close();

            // j. a client whose window asks for the user list at once and shows only the last
            //    line: the users reply comes first, the held lines after it, never overwritten.
            Client c = new Client("B3", host, port);
            try {
                c.send(obj("type", "login", "username", bob, "password", bobPw));
                r = c.syncRead("login " + bob);
                c.openChatWindowReader();
                c.startReceiver();
                c.send(obj("type", "users"));
                r = c.await("first line in the chat window", x -> true);
                check(r.isType("users"), "j. the users reply is the first line after login", r.raw);
                r = c.await("the welcome after the users reply",
                        x -> x.isType("message") && "Serveur".equals(x.str("from")));
                check(r.str("content").startsWith("Bienvenue"), "j. the welcome follows the users reply", r.raw);
            } finally {
                c.close();
            }
            Thread.sleep(200); // let any trailing lines arrive so they are validated too
        } finally {
            a.close();
            if (b != null) {
                b.close();
            }
            if (g != null) {
                g.close();
            }
        }
    }

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: java ClassCordSmoke HOST PORT");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        try {
            scenario(host, port);
        } catch (StepFailed e) {
            System.out.println("stopped at the first failed step: " + e.getMessage());
        } catch (Exception e) {
            failures.add("unexpected exception: " + e);
            System.out.println("FAIL - unexpected exception: " + e);
            e.printStackTrace(System.out);
        }
        List<String> f;
        synchronized (failures) {
            f = new ArrayList<>(failures);
        }
        if (!f.isEmpty()) {
            System.out.println("failures:");
            for (String s : f) {
                System.out.println("  - " + s);
            }
        }
        System.out.println("java smoke: " + passed + " passed, " + f.size() + " failed");
        System.exit(f.isEmpty() ? 0 : 1);
    }
}
