//! WebSocket clients for the fan-out (`fanout --web-addr ADDR --websocket-every N`): the upgrade
//! on the server's web port (`GET /ws`, as the chat page does), each line the bench writes sent
//! as one masked text frame, and the server's frames turned back into lines (one JSON object per
//! text frame) so the rest of the bench reads them as it reads a TCP client's.

/// The RFC 6455 sample key: any valid key does, the bench does not check the answer's hash.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The upgrade request for the chat's WebSocket at `host`.
pub fn upgrade_request(host: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Appends one masked text frame per `\n`-terminated line of `lines` (an unfinished last line
/// is framed too). The mask key is zero: valid, and the payload is copied unchanged.
pub fn frame_lines(lines: &[u8], out: &mut Vec<u8>) {
    for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        out.push(0x81);
        let len = line.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= usize::from(u16::MAX) {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(line);
    }
}

/// The server's frames, fed in pieces as they are read, out as lines: each text frame's
/// payload followed by `\n`; other frames (ping, close) are skipped.
#[derive(Debug, Default)]
pub struct Deframer {
    head: Vec<u8>,
    left: u64,
    in_payload: bool,
    keep: bool,
    fin: bool,
}

impl Deframer {
    pub fn new() -> Deframer {
        Deframer::default()
    }

    /// Appends the lines of `data` to `out`.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        while !data.is_empty() {
            if self.in_payload {
                let take = (self.left.min(data.len() as u64)) as usize;
                if self.keep {
                    out.extend_from_slice(&data[..take]);
                }
                self.left -= take as u64;
                data = &data[take..];
                if self.left == 0 {
                    self.in_payload = false;
                    if self.keep && self.fin {
                        out.push(b'\n');
                    }
                }
                continue;
            }
            self.head.push(data[0]);
            data = &data[1..];
            let Some(len) = self.frame_length()? else {
                continue;
            };
            let opcode = self.head[0] & 0x0f;
            self.fin = self.head[0] & 0x80 != 0;
            self.keep = opcode == 0x1 || opcode == 0x0;
            self.head.clear();
            self.left = len;
            if len == 0 {
                if self.keep && self.fin {
                    out.push(b'\n');
                }
            } else {
                self.in_payload = true;
            }
        }
        Ok(())
    }

    /// The payload length once the header is complete.
    fn frame_length(&self) -> Result<Option<u64>, String> {
        let head = &self.head;
        if head.len() < 2 {
            return Ok(None);
        }
        if head[1] & 0x80 != 0 {
            return Err("the server sent a masked frame".into());
        }
        match head[1] & 0x7f {
            126 if head.len() < 4 => Ok(None),
            126 => Ok(Some(u64::from(u16::from_be_bytes([head[2], head[3]])))),
            127 if head.len() < 10 => Ok(None),
            127 => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&head[2..10]);
                Ok(Some(u64::from_be_bytes(bytes)))
            }
            short => Ok(Some(u64::from(short))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmasked server frame.
    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        if payload.len() < 126 {
            out.push(payload.len() as u8);
        } else {
            out.push(126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn frames_become_lines_whatever_the_read_boundaries() {
        let long = vec![b'x'; 300];
        let mut stream = server_frame(1, b"{\"a\":1}");
        stream.extend(server_frame(9, b"ping"));
        stream.extend(server_frame(1, &long));
        stream.extend(server_frame(1, b""));
        let mut expected = b"{\"a\":1}\n".to_vec();
        expected.extend_from_slice(&long);
        expected.extend_from_slice(b"\n\n");
        for piece in [1, 2, 3, 7, 64, stream.len()] {
            let mut deframer = Deframer::new();
            let mut out = Vec::new();
            for chunk in stream.chunks(piece) {
                deframer.feed(chunk, &mut out).unwrap();
            }
            assert_eq!(out, expected, "pieces of {piece}");
        }
        let mut masked = server_frame(1, b"a");
        masked[1] |= 0x80;
        assert!(Deframer::new().feed(&masked, &mut Vec::new()).is_err());
    }

    #[test]
    fn each_line_goes_in_its_own_masked_frame() {
        let mut out = Vec::new();
        frame_lines(b"{\"a\":1}\n{\"b\":2}\n", &mut out);
        assert_eq!(&out[..6], &[0x81, 0x80 | 7, 0, 0, 0, 0]);
        assert_eq!(&out[6..13], b"{\"a\":1}");
        assert_eq!(out.len(), 26);
        let mut long = Vec::new();
        frame_lines(&[b'y'; 200], &mut long);
        assert_eq!(&long[..4], &[0x81, 0x80 | 126, 0, 200]);
        assert_eq!(long.len(), 4 + 4 + 200);
    }
}
