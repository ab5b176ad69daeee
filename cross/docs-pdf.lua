-- pandoc filter for cross/docs-pdf.sh: links as they must work in the PDFs.
--   web links (any scheme) and #anchors: unchanged (chromium keeps both);
--   a link to one of the rendered documents (CLASSCORD_DOCS): its PDF, beside this one. The
--     `ccdoc:` scheme keeps chromium from making it an absolute file:// path of the build folder;
--     docs-pdf.sh then replaces it with `./././`, the same length, so the PDF stays valid;
--   a link to another file of the repository (not beside the PDFs): its text, then the path.
local rendered = {}
for name in string.gmatch(os.getenv("CLASSCORD_DOCS") or "", "%S+") do
  rendered[name] = true
end

function Link(link)
  local target = link.target
  if target:match("^%a[%w+.-]*:") or target:sub(1, 1) == "#" then
    return link
  end
  local path, fragment = target:match("^([^#]*)(.*)$")
  path = path:gsub("^%./", "")
  if rendered[path] then
    link.target = "ccdoc:" .. path:gsub("%.md$", ".pdf") .. fragment
    return link
  end
  local inlines = link.content
  if pandoc.utils.stringify(inlines) ~= target then
    inlines:insert(pandoc.Str(" ("))
    inlines:insert(pandoc.Code(target))
    inlines:insert(pandoc.Str(")"))
  end
  return inlines
end

-- An image of the repository (the screenshots in docs/images/): an absolute file:// address, as
-- the HTML page is printed from a temporary folder.
function Image(image)
  if not image.src:match("^%a[%w+.-]*:") then
    image.src = "file://" .. (os.getenv("PWD") or ".") .. "/" .. image.src:gsub("^%./", "")
  end
  return image
end
