# Build the Windows installer: a venv with the CPU build of torch, the PyInstaller bundle,
# its self-test, then Inno Setup (iscc on PATH: `choco install innosetup`).
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
# For the CUDA build: -TorchIndex https://download.pytorch.org/whl/cu128
param(
    [string]$Python = "python",
    [string]$TorchIndex = ""
)
$ErrorActionPreference = "Stop"
$root = (Resolve-Path "$PSScriptRoot\..\..").Path
Set-Location $root

& $Python -m venv .venv-package
$py = "$root\.venv-package\Scripts\python.exe"
& $py -m pip install --upgrade pip
if ($TorchIndex) { & $py -m pip install torch==2.13.0 --index-url $TorchIndex }
else { & $py -m pip install torch==2.13.0 }
& $py -m pip install -e ".[gui,package]"
if ($LASTEXITCODE -ne 0) { throw "pip install failed" }

& $py -m PyInstaller packaging\sparse_circuits.spec --noconfirm `
    --distpath build\package\bundle --workpath build\package\pyinstaller
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
$bundle = "$root\build\package\bundle\sparse-circuits"

$env:QT_QPA_PLATFORM = "offscreen"
& "$bundle\sparse-circuits.exe" --self-test
if ($LASTEXITCODE -ne 0) { throw "the bundle's self-test failed" }
Remove-Item Env:QT_QPA_PLATFORM

$version = (Select-String -Path pyproject.toml -Pattern '^version = "(.+)"').Matches[0].Groups[1].Value
New-Item -ItemType Directory -Force -Path dist | Out-Null
iscc "/DAppVersion=$version" "/DBundleDir=$bundle" "/O$root\dist" packaging\windows\sparse-circuits.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
Get-ChildItem dist\*.exe | ForEach-Object { "{0}  {1:N0} MB" -f $_.Name, ($_.Length / 1MB) }
