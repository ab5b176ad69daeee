-- pandoc filter for cross/docs-pdf.sh: links as they must work in the PDFs, which all sit side by
-- side whatever the folder of their Markdown file (docs/INSTALLATION.md -> INSTALLATION.pdf).
--   web links (any scheme) and #anchors: unchanged (chromium keeps both);
--   a link to one of the rendered documents (CLASSCORD_DOCS), relative to the current one
--     (CLASSCORD_DOC): its PDF, beside this one. The `ccdoc:` scheme keeps chromium from making
--     it an absolute file:// path of the build folder; docs-pdf.sh then replaces it with
--     `./././`, the same length, so the PDF stays valid;
--   a link to another file of the repository (not beside the PDFs): its text, then its path from
--     the repository's root;
--   an image of the repository: read from the repository (CLASSCORD_ROOT) and embedded by chromium.
local rendered = {}
for name in string.gmatch(os.getenv("CLASSCORD_DOCS") or "", "%S+") do
  rendered[name] = true
end
local current = os.getenv("CLASSCORD_DOC") or ""
local folder = current:match("^(.*)/[^/]*$") or ""
local root = os.getenv("CLASSCORD_ROOT") or "."

-- `path` relative to the current document's folder, as a path from the repository's root
-- (`../SECURITE.md` from docs/ is `SECURITE.md`).
local function from_root(path)
  local parts = {}
  if folder ~= "" then
    for part in string.gmatch(folder, "[^/]+") do
      table.insert(parts, part)
    end
  end
  for part in string.gmatch(path, "[^/]+") do
    if part == ".." then
      table.remove(parts)
    elseif part ~= "." then
      table.insert(parts, part)
    end
  end
  return table.concat(parts, "/")
end

local function external(target)
  return target:match("^%a[%w+.-]*:") or target:sub(1, 1) == "#"
end

function Link(link)
  local target = link.target
  if external(target) then
    return link
  end
  local path, fragment = target:match("^([^#]*)(.*)$")
  path = from_root(path)
  if rendered[path] then
    local pdf = path:gsub("^.*/", ""):gsub("%.md$", ".pdf")
    link.target = "ccdoc:" .. pdf .. fragment
    return link
  end
  local inlines = link.content
  if pandoc.utils.stringify(inlines) ~= target then
    inlines:insert(pandoc.Str(" ("))
    inlines:insert(pandoc.Code(path))
    inlines:insert(pandoc.Str(")"))
  end
  return inlines
end

function Image(image)
  if not external(image.src) then
    image.src = "file://" .. root .. "/" .. from_root(image.src)
  end
  return image
end
